using UNetCluster.Data.Imaging;
using UNetCluster.Model.Inference;
using static TorchSharp.torch;

namespace UNetCluster.Model.Tests.Inference;

/// <summary>The two-class overlay a person looks at: hits, false positives and misses apart, and a legend in the picture.</summary>
public sealed class SegmentationOverlayTests
{
    private const int Width = 96;
    private const int Height = 4;

    [Fact]
    public void Write_WithGroundTruth_ColoursHitsFalsePositivesAndMissesApartAndDrawsTheirLegend()
    {
        using var scope = NewDisposeScope();
        // Row 0, pixels 0..3: predicted membrane on true membrane (hit), predicted membrane on cell (false positive),
        // predicted cell on true membrane (miss), predicted cell on cell (nothing marked). Membrane is class 0.
        var truth = new byte[Width * Height];
        Array.Fill(truth, (byte)1);
        truth[0] = 0;
        truth[2] = 0;
        var files = WriteOverlay(predictedMembrane: [0, 1], truth);

        var overlay = ImageReader.Read(files.OverlayPng!);
        Assert.Equal(Width, overlay.Width);
        Assert.True(overlay.Height >= Height + (3 * OverlayLegend.RowHeight), $"overlay {overlay.Height} px high: the image and three legend rows below it");
        Assert.Equal("hit", Kind(Pixel(overlay, 0, 0)));
        Assert.Equal("false positive", Kind(Pixel(overlay, 1, 0)));
        Assert.Equal("miss", Kind(Pixel(overlay, 2, 0)));
        Assert.Equal((128, 128, 128), Pixel(overlay, 3, 0));   // the image itself where nothing is marked
        Assert.Equal(Rgb(SegmentationOverlay.Hit), Swatch(overlay, 0));
        Assert.Equal(Rgb(SegmentationOverlay.FalsePositive), Swatch(overlay, 1));
        Assert.Equal(Rgb(SegmentationOverlay.Miss), Swatch(overlay, 2));
        Assert.True(LegendHasText(overlay, 0), "the legend row names what the swatch means");
    }

    [Fact]
    public void Write_WithoutGroundTruth_TintsThePredictionAndSaysThereIsNoTruth()
    {
        using var scope = NewDisposeScope();

        var files = WriteOverlay(predictedMembrane: [0, 1], truth: null);

        var overlay = ImageReader.Read(files.OverlayPng!);
        Assert.Equal("predicted", Kind(Pixel(overlay, 0, 0)));
        Assert.Equal("predicted", Kind(Pixel(overlay, 1, 0)));
        Assert.Equal((128, 128, 128), Pixel(overlay, 2, 0));
        Assert.Equal(Rgb(SegmentationOverlay.Predicted), Swatch(overlay, 0));
        Assert.Equal((0, 0, 0), Pixel(overlay, OverlayLegend.SwatchAt(Height, 1).X, OverlayLegend.SwatchAt(Height, 1).Y));   // the "no ground truth" row: an empty square
        Assert.Equal((255, 255, 255), Swatch(overlay, 1));
        Assert.True(LegendHasText(overlay, 1), "the legend says there was no ground truth");
        Assert.DoesNotContain(Enumerable.Range(0, Width * Height), i => Kind(Pixel(overlay, i % Width, i / Width)) is "hit" or "miss");
    }

    [Fact]
    public void Write_ObjectLabelsWithGroundTruth_MarksTheObjectsNotTheBackground()
    {
        using var scope = NewDisposeScope();
        // With object labels the foreground (class 1) is what is marked: pixel 2 and 3 predicted foreground, pixel 3 and 4 true.
        var truth = new byte[Width * Height];
        truth[3] = 1;
        truth[4] = 1;

        var files = WriteOverlay(predictedMembrane: [.. Enumerable.Range(0, Width * Height).Where(i => i is not 2 and not 3)], truth, instances: true);

        var overlay = ImageReader.Read(files.OverlayPng!);
        Assert.Equal("false positive", Kind(Pixel(overlay, 2, 0)));
        Assert.Equal("hit", Kind(Pixel(overlay, 3, 0)));
        Assert.Equal("miss", Kind(Pixel(overlay, 4, 0)));
        Assert.Equal((128, 128, 128), Pixel(overlay, 0, 0));
    }

    /// <summary>A gray 50 % image whose prediction is membrane (class 0) at <paramref name="predictedMembrane"/>, cell elsewhere.</summary>
    private static PredictionFiles WriteOverlay(int[] predictedMembrane, byte[]? truth, bool instances = false)
    {
        var cell = Enumerable.Repeat(0.9f, Width * Height).ToArray();
        foreach (var i in predictedMembrane)
        {
            cell[i] = 0.1f;
        }

        var foreground = tensor(cell, [1, Height, Width]);
        var probabilities = cat([1 - foreground, foreground], 0);
        var image = new GrayImage(Width, Height, Enumerable.Repeat((ushort)128, Width * Height).ToArray(), 8, "flat.png");
        return PredictionWriter.Write(TestSupport.TemporaryDirectory(), "flat", image, probabilities, truth, instances: instances);
    }

    private static (int R, int G, int B) Pixel(GrayImage rgb, int x, int y)
    {
        var plane = rgb.PlaneLength;
        var i = (y * rgb.Width) + x;
        return (rgb.Values[i], rgb.Values[plane + i], rgb.Values[(2 * plane) + i]);
    }

    /// <summary>The inside of legend row <paramref name="row"/>'s swatch.</summary>
    private static (int R, int G, int B) Swatch(GrayImage rgb, int row)
    {
        var (x, y) = OverlayLegend.SwatchAt(Height, row);
        return Pixel(rgb, x + 3, y + 3);
    }

    /// <summary>Whether legend row <paramref name="row"/> has black text pixels right of its swatch.</summary>
    private static bool LegendHasText(GrayImage rgb, int row)
    {
        var (_, y) = OverlayLegend.SwatchAt(Height, row);
        return Enumerable.Range(20, Width - 20).Any(x => Enumerable.Range(y, 10).Any(yy => Pixel(rgb, x, yy) == (0, 0, 0)));
    }

    private static (int R, int G, int B) Rgb((byte R, byte G, byte B) c) => (c.R, c.G, c.B);

    /// <summary>What a person sees in a pixel of a gray image blended with an overlay colour.</summary>
    private static string Kind((int R, int G, int B) p) => p switch
    {
        _ when p.G > p.R + 40 && p.G > p.B + 40 => "hit",                 // green
        _ when p.R > p.G + 40 && p.B > p.G + 40 => "false positive",      // magenta
        _ when p.B > p.R + 40 && p.B > p.G + 20 => "miss",                // blue
        _ when p.R > p.G + 40 && p.R > p.B + 40 => "predicted",           // red
        _ => "unmarked",
    };
}
