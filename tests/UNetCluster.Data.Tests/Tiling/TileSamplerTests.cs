using TorchSharp;
using UNetCluster.Data.Augmentation;
using UNetCluster.Data.Randomness;
using UNetCluster.Data.Tiling;
using static TorchSharp.torch;

namespace UNetCluster.Data.Tests.Tiling;

public sealed class TileSamplerTests
{
    private const int SectionSize = 512;

    private static readonly TileSamplerOptions PaperTiles = new() { InputSize = 572, OutputSize = 388 };

    [Fact]
    public void Sample_PaperTilesFrom512Section_HaveRequestedShapesAndDtypes()
    {
        using var scope = torch.NewDisposeScope();
        var (image, mask, weights) = Section();
        var sampler = new TileSampler(PaperTiles, new Augmenter(new AugmentationOptions()));

        var tile = sampler.Sample(image, mask, weights, seed: 1);

        Assert.Equal([1L, 572, 572], tile.Image.shape);
        Assert.Equal([388L, 388], tile.Mask.shape);
        Assert.Equal([388L, 388], tile.Weights.shape);
        Assert.Equal(ScalarType.Float32, tile.Image.dtype);
        Assert.Equal(ScalarType.Int64, tile.Mask.dtype);
        Assert.Equal(ScalarType.Float32, tile.Weights.dtype);
        Assert.Subset(new HashSet<long> { 0, 1 }, tile.Mask.data<long>().ToHashSet());
    }

    [Fact]
    public void Sample_AugmentationOff_OutputWindowHoldsTheSectionAtTheSampledPosition()
    {
        using var scope = torch.NewDisposeScope();
        var (image, mask, weights) = Section();
        var sampler = new TileSampler(PaperTiles);
        var margin = PaperTiles.Margin;

        for (var seed = 0L; seed < 5; seed++)
        {
            var tile = sampler.Sample(image, mask, weights, seed);
            var (top, left) = (tile.Window.OutputTop, tile.Window.OutputLeft);

            Assert.Equal(sampler.DrawWindow(seed, SectionSize, SectionSize), tile.Window);
            Assert.True(tile.Mask.Equals(mask.narrow(0, top, 388).narrow(1, left, 388)));
            Assert.True(tile.Weights.Equals(weights.narrow(0, top, 388).narrow(1, left, 388)));
            Assert.True(tile.Image.narrow(1, margin, 388).narrow(2, margin, 388)
                .Equals(image.narrow(1, top, 388).narrow(2, left, 388)));

            // The input window starts above row 0 (the margin exceeds any top), and the rows above are mirrored:
            // section row -d holds section row d.
            for (var d = 1; d <= margin - top; d++)
            {
                var tileRow = tile.Image[0, margin - top - d].narrow(0, margin, 388);
                var sectionRow = image[0, d].narrow(0, left, 388);
                Assert.True(tileRow.Equals(sectionRow), $"seed {seed}: row -{d} is not a mirror of row {d}");
            }
        }
    }

    [Fact]
    public void Sample_SameSeed_GivesBitIdenticalTilesAndOtherSeedsDoNot()
    {
        using var scope = torch.NewDisposeScope();
        var (image, mask, weights) = Section();
        var sampler = new TileSampler(new TileSamplerOptions { InputSize = 92, OutputSize = 60 }, new Augmenter(new AugmentationOptions()));
        var seed = TileSampler.DeriveSeed(2015, 7, 1, 3);

        var first = sampler.Sample(image, mask, weights, seed);
        var second = sampler.Sample(image, mask, weights, seed);
        var other = sampler.Sample(image, mask, weights, TileSampler.DeriveSeed(2015, 7, 1, 4));

        Assert.Equal(first.Window, second.Window);
        Assert.True(first.Image.Equals(second.Image));
        Assert.True(first.Mask.Equals(second.Mask));
        Assert.True(first.Weights.Equals(second.Weights));
        Assert.False(first.Image.Equals(other.Image));
    }

    [Fact]
    public void Sample_CalledOutsideAnyScope_LeavesOnlyTheTileTensorsAlive()
    {
        Tensor image, mask, weights;
        using (var setup = torch.NewDisposeScope())
        {
            (image, mask, weights) = Section();
            setup.Detach(image, mask, weights);
        }

        try
        {
            var sampler = new TileSampler(new TileSamplerOptions { InputSize = 92, OutputSize = 60 }, new Augmenter(new AugmentationOptions()));
            var statistics = DisposeScopeManager.Statistics;
            var liveBefore = statistics.ThreadTotalLiveCount;

            var tile = sampler.Sample(image, mask, weights, seed: 4); // no scope: every intermediate must be freed inside

            Assert.Equal(liveBefore + 3, statistics.ThreadTotalLiveCount);
            tile.Dispose();
            Assert.Equal(liveBefore, statistics.ThreadTotalLiveCount);
        }
        finally
        {
            image.Dispose();
            mask.Dispose();
            weights.Dispose();
        }
    }

    [Fact]
    public void DrawWindow_ManySeeds_StaysInsideAndSpreadsOverTheSection()
    {
        var sampler = new TileSampler(new TileSamplerOptions { InputSize = 92, OutputSize = 60 });
        var windows = Enumerable.Range(0, 400).Select(seed => sampler.DrawWindow(seed, 300, 200)).ToArray();

        Assert.All(windows, w => Assert.InRange(w.OutputTop, 0, 300 - 60));
        Assert.All(windows, w => Assert.InRange(w.OutputLeft, 0, 200 - 60));
        Assert.InRange(windows.Min(w => w.OutputTop), 0, 10);
        Assert.InRange(windows.Max(w => w.OutputTop), 230, 240);
        Assert.InRange(windows.Min(w => w.OutputLeft), 0, 10);
        Assert.InRange(windows.Max(w => w.OutputLeft), 130, 140);
        Assert.InRange(windows.Average(w => w.OutputTop), 105.0, 135.0);
    }

    [Fact]
    public void DrawWindow_OversampleZeroOrNoFocus_DrawsTheUniformWindowsAsBefore()
    {
        var uniform = new TileSampler(new TileSamplerOptions { InputSize = 92, OutputSize = 60 });
        var none = new TileSampler(new TileSamplerOptions { InputSize = 92, OutputSize = 60, Oversample = 0 });
        var always = new TileSampler(new TileSamplerOptions { InputSize = 92, OutputSize = 60, Oversample = 1 });
        int[] focus = [150 * 200 + 100];

        for (var seed = 0L; seed < 50; seed++)
        {
            var expected = uniform.DrawWindow(seed, 300, 200);
            Assert.Equal(expected, none.DrawWindow(seed, 300, 200, focus));
            Assert.Equal(expected, always.DrawWindow(seed, 300, 200, []));
            Assert.Equal(expected, always.DrawWindow(seed, 300, 200, null));
        }
    }

    [Fact]
    public void DrawWindow_OversampleOne_EveryWindowHoldsAFocusPixelAtVaryingPlaces()
    {
        // Two focus pixels: one in the middle, one in the bottom-right corner (only one window position holds it).
        var sampler = new TileSampler(new TileSamplerOptions { InputSize = 92, OutputSize = 60, Oversample = 1 });
        int[] focus = [(150 * 200) + 100, (299 * 200) + 199];

        var windows = Enumerable.Range(0, 400).Select(seed => sampler.DrawWindow(seed, 300, 200, focus)).ToArray();

        bool Holds(TileWindow w, int pixel) =>
            pixel / 200 - w.OutputTop is >= 0 and < 60 && pixel % 200 - w.OutputLeft is >= 0 and < 60;
        Assert.All(windows, w => Assert.True(focus.Any(p => Holds(w, p)), $"window at ({w.OutputTop}, {w.OutputLeft}) holds no focus pixel"));
        Assert.All(windows, w => Assert.InRange(w.OutputTop, 0, 300 - 60));
        Assert.All(windows, w => Assert.InRange(w.OutputLeft, 0, 200 - 60));
        var middle = windows.Where(w => Holds(w, focus[0])).ToArray();
        var corner = windows.Count(w => w == new TileWindow(240, 140));
        Assert.InRange(middle.Length, 160, 240);               // each focus pixel drawn about half the time
        Assert.Equal(400 - middle.Length, corner);             // the corner pixel has a single window
        Assert.InRange(middle.Min(w => w.OutputTop), 91, 96);  // and the middle one any of the 60 x 60 that hold it
        Assert.InRange(middle.Max(w => w.OutputTop), 146, 150);
        Assert.InRange(middle.Min(w => w.OutputLeft), 41, 46);
        Assert.InRange(middle.Max(w => w.OutputLeft), 96, 100);
    }

    [Fact]
    public void DrawWindow_OversampleAThird_PlacesAboutAThirdOfTheTilesOverTheFocus()
    {
        var sampler = new TileSampler(new TileSamplerOptions { InputSize = 92, OutputSize = 60, Oversample = 1.0 / 3 });
        int[] focus = [(10 * 1000) + 10];   // uniformly placed windows hold this pixel in 1 of 941 x 941 positions

        var held = Enumerable.Range(0, 3000).Select(seed => sampler.DrawWindow(seed, 1000, 1000, focus))
            .Count(w => w.OutputTop <= 10 && w.OutputLeft <= 10);

        Assert.InRange(held, 900, 1100);
    }

    [Fact]
    public void DrawWindow_FocusPixelOutsideTheSection_Throws()
    {
        var sampler = new TileSampler(new TileSamplerOptions { InputSize = 92, OutputSize = 60, Oversample = 1 });

        Assert.Throws<ArgumentOutOfRangeException>(() => sampler.DrawWindow(1, 100, 100, [100 * 100]));
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    public void TileSampler_OversampleOutsideZeroToOne_ThrowsNamingTheOption(double share)
    {
        var error = Assert.Throws<ArgumentException>(
            () => new TileSampler(new TileSamplerOptions { InputSize = 92, OutputSize = 60, Oversample = share }));

        Assert.Contains(nameof(TileSamplerOptions.Oversample), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FocusPixels_ThreeClassTarget_AreTheRarestForegroundClassOrNone()
    {
        // 0 background, 1 interior, 2 border: the border is rarer than the interior (and the background, never focus).
        long[] withBorder = [0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 1];
        long[] interiorOnly = [0, 0, 1, 1, 0, 0];
        long[] tie = [0, 1, 2, 0, 0, 0];

        Assert.Equal([9, 10], TileSampler.FocusPixels(withBorder));
        Assert.Equal([2, 3], TileSampler.FocusPixels(interiorOnly));
        Assert.Equal([2], TileSampler.FocusPixels(tie));
        Assert.Empty(TileSampler.FocusPixels(new long[16]));
    }

    [Fact]
    public void FocusPixels_ClassLargerThanTheCap_KeepsTheCapEvenlySpread()
    {
        var mask = new long[300_000];
        for (var i = 100_000; i < mask.Length; i++)
        {
            mask[i] = 1;                            // 200,000 foreground pixels after 100,000 of background
        }

        var focus = TileSampler.FocusPixels(mask);

        Assert.Equal(TileSampler.MaxFocusPixels, focus.Length);
        Assert.Equal(100_000, focus[0]);
        Assert.InRange(focus[^1], 299_990, 299_999);
        Assert.All(focus.Zip(focus.Skip(1)), pair => Assert.InRange(pair.Second - pair.First, 3, 4));   // 200,000 / 65,536 = 3.05 apart
    }

    [Fact]
    public void Sample_SectionSmallerThanOutputWindow_ThrowsNamingTheOption()
    {
        using var scope = torch.NewDisposeScope();
        var sampler = new TileSampler(PaperTiles);

        var error = Assert.Throws<ArgumentException>(() => sampler.Sample(
            torch.zeros(1, 300, 600), torch.zeros([300, 600], ScalarType.Int64), torch.ones(300, 600), seed: 0));

        Assert.Contains(nameof(TileSamplerOptions.OutputSize), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TileSampler_OddMargin_ThrowsNamingTheOption()
    {
        var error = Assert.Throws<ArgumentException>(
            () => new TileSampler(new TileSamplerOptions { InputSize = 573, OutputSize = 388 }));

        Assert.Contains(nameof(TileSamplerOptions.InputSize), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DeriveSeed_KnownInputs_GivesFrozenValues()
    {
        // Checkpoints record seeds: these values must never change. Computed from the documented formula by an
        // independent (Python) implementation.
        Assert.Equal(4582405886570937924L, TileSampler.DeriveSeed(42, 1, 2, 3));
        Assert.Equal(-4767286540954276203L, TileSampler.DeriveSeed(42));
        Assert.Equal(-2152535657050944081L, TileSampler.DeriveSeed(0, 0));
        Assert.Equal(-9155081491854825540L, TileSampler.DeriveSeed(-1, 7));
    }

    [Fact]
    public void DeriveSeed_PartsInAnotherOrderOrCount_GivesDifferentSeeds()
    {
        long[] seeds =
        [
            TileSampler.DeriveSeed(42, 1, 2),
            TileSampler.DeriveSeed(42, 2, 1),
            TileSampler.DeriveSeed(42, 1),
            TileSampler.DeriveSeed(42, 1, 2, 0),
            TileSampler.DeriveSeed(43, 1, 2),
        ];

        Assert.Equal(seeds.Length, seeds.Distinct().Count());
    }

    /// <summary>A 512 x 512 section with distinct pixel values, a mask and a weight map that differ from it.</summary>
    private static (Tensor Image, Tensor Mask, Tensor Weights) Section()
    {
        var random = new SplitMix64(2012);
        var values = new float[SectionSize * SectionSize];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = (float)random.NextDouble();
        }

        var image = torch.tensor(values, [1, SectionSize, SectionSize]);
        var mask = (image[0] > 0.3).to(ScalarType.Int64);
        var weights = torch.where(mask == 1, torch.tensor(1.0f), torch.tensor(3.0f)) + image[0].square();
        return (image, mask, weights);
    }
}
