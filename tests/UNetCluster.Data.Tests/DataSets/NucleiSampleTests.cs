using UNetCluster.Data.DataSets;
using UNetCluster.Data.WeightMaps;
using UNetCluster.Tests.Common;

namespace UNetCluster.Data.Tests.DataSets;

/// <summary>
/// The committed sample of a public instance-labelled nuclei set (BBBC038 / DSB 2018, CC0; data/dsb2018-nuclei-sample),
/// read as a user's data would be: the masks are taken for object ids without being told, and touching nuclei are
/// separated in the training target and stressed by the weight map.
/// </summary>
public sealed class NucleiSampleTests
{
    private static readonly string Sample = Path.Combine(RepositoryPaths.Root, "data", "dsb2018-nuclei-sample");

    [Fact]
    public void LoadLabelled_Auto_ReadsTheSixteenBitMasksAsInstancesAndSeparatesTouchingNuclei()
    {
        var set = DataSetLoader.LoadLabelled(Path.Combine(Sample, "images"), Path.Combine(Sample, "masks"));

        Assert.Equal(4, set.Sections.Count);
        Assert.All(set.Sections, s => Assert.Equal(MaskKind.Instances, s.Kind));
        // Nuclei per image, as the sample's README lists them (file names in order).
        Assert.Equal([49, 31, 14, 52], set.Sections.Select(s => s.Instances!.Where(i => i != 0).Distinct().Count()));

        foreach (var section in set.Sections)
        {
            // Pixels of a nucleus that touch another nucleus are taken out of the foreground target: the gap the
            // network must learn. The sample's third image has no touching nuclei, the fourth has 40.
            var separated = section.Border!.Count(b => b != 0);
            if (section.Id.Contains("98a463483fe3a56d", StringComparison.Ordinal))
            {
                Assert.Equal(0, separated);
            }
            else
            {
                Assert.True(separated > 0, $"{section.Id}: no pixel separates its touching nuclei");
            }
        }

        // The paper's border weight is highest in those gaps: far above the weight of background away from any nucleus.
        var crowded = set.Sections.Single(s => s.Id.Contains("9ebcfaf2322932d4", StringComparison.Ordinal));
        var weights = WeightMap.Compute(crowded.Mask, crowded.Image.Width, crowded.Image.Height, new WeightMapOptions(BalanceClasses: false), crowded.Instances);
        var gaps = Enumerable.Range(0, weights.Length).Where(i => crowded.Border![i] != 0).Average(i => weights[i]);
        Assert.True(gaps > 5, $"mean weight in the gaps between touching nuclei {gaps:F2}, expected above 5 (w0 = 10)");
    }
}
