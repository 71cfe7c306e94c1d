using UNetCluster.Data.DataSets;
using UNetCluster.Data.Imaging;
using UNetCluster.Data.Labels;
using UNetCluster.Data.Tests.TestSupport;
using UNetCluster.Data.WeightMaps;

namespace UNetCluster.Data.Tests.Labels;

/// <summary>
/// Instance masks (object ids, 0 = background), the paper's own use case: two touching objects are trained apart, with
/// a background border between them that the weight map's border term stresses; a binary mask of the same pixels
/// would make them one object.
/// </summary>
public sealed class InstanceMaskTests : IDisposable
{
    private const int Width = 40;
    private const int Height = 20;
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>Two 12x12 squares side by side that touch along x = 19 | 20 (ids 7 and 300), on background.</summary>
    private static ushort[] TouchingSquares()
    {
        var ids = new ushort[Width * Height];
        for (var y = 4; y < 16; y++)
        {
            for (var x = 8; x < 20; x++)
            {
                ids[(y * Width) + x] = 7;
                ids[(y * Width) + x + 12] = 300;
            }
        }

        return ids;
    }

    [Fact]
    public void From_TwoTouchingObjects_SeparatesThemByABackgroundBorder()
    {
        var (target, objects) = InstanceTargets.From(new GrayImage(Width, Height, TouchingSquares(), 16, "ids.png"));

        for (var y = 4; y < 16; y++)
        {
            Assert.Equal(0, target[(y * Width) + 19]);     // the touching columns become background
            Assert.Equal(0, target[(y * Width) + 20]);
            Assert.Equal(1, target[(y * Width) + 18]);     // the rest of each object stays foreground
            Assert.Equal(1, target[(y * Width) + 21]);
            Assert.Equal(7, objects[(y * Width) + 18]);
            Assert.Equal(300, objects[(y * Width) + 21]);
        }

        Assert.Equal(0, target[(2 * Width) + 10]);
        Assert.Equal(2 * 11 * 12, target.Count(t => t == 1));
    }

    [Fact]
    public void Compute_TouchingInstances_WeighsTheBorderBetweenThemLikeTheGapBetweenTwoCells()
    {
        var (target, objects) = InstanceTargets.From(new GrayImage(Width, Height, TouchingSquares(), 16, "ids.png"));
        var options = new WeightMapOptions { BalanceClasses = false };

        var asInstances = WeightMap.Compute(target, Width, Height, options, objects);
        var union = TouchingSquares().Select(v => v == 0 ? (byte)0 : (byte)1).ToArray();
        var asBinary = WeightMap.Compute(union, Width, Height, options);

        var border = (10 * Width) + 19;
        Assert.True(asInstances[border] > 9, $"weight {asInstances[border]} on the border between the two objects");   // 1 + 10 exp(-(1+1)^2 / 50)
        Assert.Equal(1f, asBinary[(10 * Width) + 2]);     // one object only: no border term anywhere
        Assert.True(asBinary.Max() <= 1f, "a binary mask of the same pixels has one object and no border term");
    }

    [Fact]
    public void LoadLabelled_SixteenBitIdMasks_AutoReadsObjectIds()
    {
        var (images, masks) = Folders();
        TestImages.WriteGray16Png(Path.Combine(images, "a.png"), TestImages.Pattern(Width, Height, 16), Width, Height);
        TestImages.WriteGray16Png(Path.Combine(masks, "a.png"), TouchingSquares(), Width, Height);

        var section = Assert.Single(DataSetLoader.LoadLabelled(images, masks).Sections);

        Assert.NotNull(section.Instances);
        Assert.Equal(0, section.Mask[(10 * Width) + 19]);
        Assert.Equal(300, section.Instances[(10 * Width) + 25]);
    }

    [Fact]
    public void LoadLabelled_EightBitMaskWithSeveralValues_AutoRefusesAndNamesTheInstancesKind()
    {
        var (images, masks) = Folders();
        PngWriter.WriteGray8(Path.Combine(images, "a.png"), TestImages.Pattern(Width, Height, 8).Select(v => (byte)v).ToArray(), Width, Height);
        PngWriter.WriteGray8(Path.Combine(masks, "a.png"), TouchingSquares().Select(v => (byte)Math.Min((int)v, 200)).ToArray(), Width, Height);

        var error = Assert.Throws<DataSetValidationException>(() => DataSetLoader.LoadLabelled(images, masks));
        var instances = DataSetLoader.LoadLabelled(images, masks, maskKind: MaskKind.Instances);

        var problem = Assert.Single(error.Problems);
        Assert.Contains("a.png: mask is not binary", problem, StringComparison.Ordinal);
        Assert.Contains("pass --mask-kind instances", problem, StringComparison.Ordinal);
        Assert.NotNull(Assert.Single(instances.Sections).Instances);
    }

    [Fact]
    public void LoadLabelled_BinaryMaskAsInstances_IsOneObjectPerValue()
    {
        var (images, masks) = Folders();
        PngWriter.WriteGray8(Path.Combine(images, "a.png"), TestImages.Pattern(Width, Height, 8).Select(v => (byte)v).ToArray(), Width, Height);
        PngWriter.WriteGray8(Path.Combine(masks, "a.png"), TouchingSquares().Select(v => v == 0 ? (byte)0 : (byte)255).ToArray(), Width, Height);

        var binary = Assert.Single(DataSetLoader.LoadLabelled(images, masks).Sections);
        var instances = Assert.Single(DataSetLoader.LoadLabelled(images, masks, maskKind: MaskKind.Instances).Sections);

        Assert.Null(binary.Instances);
        Assert.Equal(binary.Mask, instances.Mask);        // one object: nothing touches another, the target is the same
    }

    private (string Images, string Masks) Folders()
    {
        var images = Directory.CreateDirectory(Path.Combine(_temp.Path, "images")).FullName;
        var masks = Directory.CreateDirectory(Path.Combine(_temp.Path, "masks")).FullName;
        return (images, masks);
    }
}
