using System.Text.Json;
using BitMiracle.LibTiff.Classic;
using UNetCluster.Data.DataSets;
using UNetCluster.Data.Imaging;

namespace UNetCluster.Client.Tests;

public sealed class PredictEvaluateCommandTests
{
    private static readonly Lazy<Task<string>> TrainedRun = new(async () =>
    {
        var run = Path.Combine(CliRunner.TemporaryDirectory(), "run");
        var result = await CliRunner.RunAsync("train", "--preset", "tiny", "--steps", "2", "--out", run);
        Assert.True(result.ExitCode == 0, result.Error);
        return run;
    });

    [Fact]
    public async Task Predict_ImageOf696x520_WritesProbabilityMaskAndOverlayOfThatSize()
    {
        var folder = CliRunner.TemporaryDirectory();
        var input = Path.Combine(folder, "wide.png");
        var pixels = new byte[696 * 520];
        for (var i = 0; i < pixels.Length; i++)
        {
            pixels[i] = (byte)((i * 7) % 251);
        }

        PngWriter.WriteGray8(input, pixels, 696, 520);
        var outDir = Path.Combine(folder, "out");
        var (code, output, error) = await CliRunner.RunAsync("predict", "--checkpoint", await TrainedRun.Value, "--input", input, "--out", outDir);

        Assert.True(code == 0, error + output);
        var mask = ImageReader.Read(Path.Combine(outDir, "wide.mask.png"));
        Assert.Equal((696, 520), (mask.Width, mask.Height));
        Assert.All(mask.Values.Distinct(), v => Assert.True(v is 0 or 255));
        Assert.True(File.Exists(Path.Combine(outDir, "wide.probability.png")));
        Assert.True(File.Exists(Path.Combine(outDir, "wide.overlay.png")));
        Assert.False(File.Exists(Path.Combine(outDir, "wide.instances.png")));   // binary masks: no object labels unless asked
    }

    [Theory]
    [InlineData("4092", "--tile 4092 is larger than needed", "at most 168")]
    [InlineData("100000", "--tile 100000 is larger than needed", "at most 168")]
    public async Task Predict_TileFarLargerThanTheImage_IsRefusedNamingTheLargestAcceptedTileAndWritesNothing(string tile, string expected, string largest)
    {
        // The tiny preset's depth-2 network predicts a 128 x 128 image whole with a 168 px tile.
        var folder = CliRunner.TemporaryDirectory();
        var input = Path.Combine(folder, "small.png");
        PngWriter.WriteGray8(input, Gradient(128 * 128), 128, 128);
        var outDir = Path.Combine(folder, "out");

        var (code, output, error) = await CliRunner.RunAsync("predict", "--checkpoint", await TrainedRun.Value, "--input", input, "--out", outDir, "--tile", tile);

        Assert.True(code == 2, error + output);
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.Contains(largest, error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(outDir));
        var fits = await CliRunner.RunAsync("predict", "--checkpoint", await TrainedRun.Value, "--input", input, "--out", outDir, "--tile", "168");
        Assert.True(fits.ExitCode == 0, fits.Error);
    }

    [Fact]
    public async Task Predict_NotACheckpoint_SaysWhatIsExpected()
    {
        var folder = CliRunner.TemporaryDirectory();
        var (code, _, error) = await CliRunner.RunAsync("predict", "--checkpoint", folder, "--input", BundledData.UnlabelledDirectory, "--out", Path.Combine(folder, "o"));
        Assert.Equal(2, code);
        Assert.Contains("is not a checkpoint", error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(folder, "o")));
    }

    [Fact]
    public async Task Predict_FolderWithPngAndTiffOfOneName_RefusesNamingBothAndWritesNothing()
    {
        // Both would be predicted into a.probability.png, a.mask.png and a.overlay.png: the second would replace the first.
        var folder = CliRunner.TemporaryDirectory();
        var input = Directory.CreateDirectory(Path.Combine(folder, "in")).FullName;
        PngWriter.WriteGray8(Path.Combine(input, "a.png"), Gradient(64 * 48), 64, 48);
        WriteGray8Tiff(Path.Combine(input, "a.tif"), Gradient(40 * 30), 40, 30);
        PngWriter.WriteGray8(Path.Combine(input, "b.png"), Gradient(64 * 48), 64, 48);
        var before = CliRunner.Snapshot(folder);
        var outDir = Path.Combine(folder, "out");

        var (code, output, error) = await CliRunner.RunAsync("predict", "--checkpoint", await TrainedRun.Value, "--input", input, "--out", outDir);

        Assert.Equal(2, code);
        Assert.Contains($"{Path.Combine(input, "a.png")} and {Path.Combine(input, "a.tif")} would both be predicted into {Path.Combine(outDir, "a")}.*.png", error, StringComparison.Ordinal);
        Assert.Contains("rename one of them", error, StringComparison.Ordinal);
        Assert.Empty(output);
        Assert.False(Directory.Exists(outDir));
        Assert.Equal(before, CliRunner.Snapshot(folder));
    }

    [Fact]
    public async Task Predict_OutFolderHoldingAFileAPredictionWouldReplace_RefusesAndLeavesItUnchanged()
    {
        // Predicting a.png into its own folder writes a.mask.png, which there is an input image of its own.
        var folder = CliRunner.TemporaryDirectory();
        PngWriter.WriteGray8(Path.Combine(folder, "a.png"), Gradient(64 * 48), 64, 48);
        PngWriter.WriteGray8(Path.Combine(folder, "a.mask.png"), [.. Gradient(64 * 48).Select(v => (byte)(v > 127 ? 255 : 0))], 64, 48);
        var before = CliRunner.Snapshot(folder);

        var (code, _, error) = await CliRunner.RunAsync("predict", "--checkpoint", await TrainedRun.Value, "--input", folder, "--out", folder);

        Assert.Equal(2, code);
        Assert.Contains($"The prediction of {Path.Combine(folder, "a.png")} would be written to {Path.Combine(folder, "a.mask.png")}, replacing that input image", error, StringComparison.Ordinal);
        Assert.Equal(before, CliRunner.Snapshot(folder));
    }

    [Fact]
    public async Task Evaluate_GroundTruthAgainstItself_IsPerfect()
    {
        var (code, output, error) = await CliRunner.RunAsync("evaluate", "--predictions", BundledData.MasksDirectory, "--masks", BundledData.MasksDirectory, "--json");
        Assert.True(code == 0, error);
        using var json = JsonDocument.Parse(output);
        var mean = json.RootElement.GetProperty("mean");
        Assert.Equal(0.0, mean.GetProperty("pixelError").GetDouble());
        Assert.Equal(1.0, mean.GetProperty("foregroundIoU").GetDouble());
        Assert.Equal(1.0, mean.GetProperty("dice").GetDouble());
        Assert.Equal(0.0, mean.GetProperty("randError").GetDouble(), 12);
        Assert.Equal(24, json.RootElement.GetProperty("images").GetArrayLength());
    }

    [Fact]
    public async Task Evaluate_KnownHandMadeMasks_PrintsTheirScores()
    {
        // Truth: left half cell (255), right half membrane. Prediction: everything cell. 4x4 -> 8 of 16 pixels wrong.
        var folder = CliRunner.TemporaryDirectory();
        var truth = Path.Combine(folder, "truth");
        var predicted = Path.Combine(folder, "predicted");
        var half = Enumerable.Range(0, 16).Select(i => (byte)(i % 4 < 2 ? 255 : 0)).ToArray();
        PngWriter.WriteGray8(Path.Combine(truth, "a.png"), half, 4, 4);
        PngWriter.WriteGray8(Path.Combine(predicted, "a.mask.png"), Enumerable.Repeat((byte)255, 16).ToArray(), 4, 4);

        var (code, output, error) = await CliRunner.RunAsync("evaluate", "--predictions", predicted, "--masks", truth);

        Assert.True(code == 0, error);
        var row = output.Split('\n').Single(l => l.StartsWith("a ", StringComparison.Ordinal));
        Assert.Contains("0.5000", row, StringComparison.Ordinal);    // pixel error 8/16 and IoU 8/16
        Assert.Contains("0.6667", row, StringComparison.Ordinal);    // Dice 2*8/(16+8)
    }

    [Fact]
    public async Task Evaluate_ImagesOfDifferentForegroundSizes_PrintsThePerImageMeanAndThePooledDice()
    {
        // a: 4x4, truth 8 px, predicted all 16 (Dice 16/24). b: 4x4, truth 1 px, predicted nothing (Dice 0).
        // Per image the mean Dice is 1/3; over all pixels together 2*8 / (2*8 + 8 + 1) = 16/25.
        var folder = CliRunner.TemporaryDirectory();
        var truth = Path.Combine(folder, "truth");
        var predicted = Path.Combine(folder, "predicted");
        PngWriter.WriteGray8(Path.Combine(truth, "a.png"), [.. Enumerable.Range(0, 16).Select(i => (byte)(i % 4 < 2 ? 255 : 0))], 4, 4);
        PngWriter.WriteGray8(Path.Combine(predicted, "a.mask.png"), [.. Enumerable.Repeat((byte)255, 16)], 4, 4);
        PngWriter.WriteGray8(Path.Combine(truth, "b.png"), [.. Enumerable.Range(0, 16).Select(i => (byte)(i == 5 ? 255 : 0))], 4, 4);
        PngWriter.WriteGray8(Path.Combine(predicted, "b.mask.png"), new byte[16], 4, 4);

        var text = await CliRunner.RunAsync("evaluate", "--predictions", predicted, "--masks", truth);
        var json = await CliRunner.RunAsync("evaluate", "--predictions", predicted, "--masks", truth, "--json");

        Assert.True(text.ExitCode == 0, text.Error);
        Assert.Contains("All images' pixels together: foreground IoU 0.4706, Dice 0.6400 (the table's mean is per image).", text.Output, StringComparison.Ordinal);
        using var document = JsonDocument.Parse(json.Output);
        Assert.Equal(1.0 / 3, document.RootElement.GetProperty("mean").GetProperty("dice").GetDouble(), 6);
        Assert.Equal(16.0 / 25, document.RootElement.GetProperty("pooled").GetProperty("dice").GetDouble(), 6);
        Assert.Equal(8.0 / 17, document.RootElement.GetProperty("pooled").GetProperty("foregroundIoU").GetDouble(), 6);
    }

    [Fact]
    public async Task Evaluate_MissingAndNonBinaryPredictions_ListsEveryBadFile()
    {
        var folder = CliRunner.TemporaryDirectory();
        var truth = Path.Combine(folder, "truth");
        var predicted = Path.Combine(folder, "predicted");
        var mask = Enumerable.Repeat((byte)255, 16).ToArray();
        PngWriter.WriteGray8(Path.Combine(truth, "a.png"), mask, 4, 4);
        PngWriter.WriteGray8(Path.Combine(truth, "b.png"), mask, 4, 4);
        PngWriter.WriteGray8(Path.Combine(predicted, "a.mask.png"), Enumerable.Range(0, 16).Select(i => (byte)(i * 10)).ToArray(), 4, 4);

        var (code, _, error) = await CliRunner.RunAsync("evaluate", "--predictions", predicted, "--masks", truth);

        Assert.Equal(2, code);
        Assert.Contains("a.mask.png: mask is not binary", error, StringComparison.Ordinal);
        Assert.Contains("b.png: no prediction named b.mask.png", error, StringComparison.Ordinal);
        Assert.Contains("Cannot evaluate (2 problems):", error, StringComparison.Ordinal);   // counted once, not "2 problem(s). (2 problems)"
    }

    private static byte[] Gradient(int count) => [.. Enumerable.Range(0, count).Select(i => (byte)((i * 7) % 251))];

    /// <summary>A one-page 8-bit grayscale TIFF, through LibTiff.NET (the library the reader uses).</summary>
    private static void WriteGray8Tiff(string path, byte[] pixels, int width, int height)
    {
        using var tiff = Tiff.Open(path, "w") ?? throw new IOException($"LibTiff could not create {path}");
        tiff.SetField(TiffTag.IMAGEWIDTH, width);
        tiff.SetField(TiffTag.IMAGELENGTH, height);
        tiff.SetField(TiffTag.BITSPERSAMPLE, 8);
        tiff.SetField(TiffTag.SAMPLESPERPIXEL, 1);
        tiff.SetField(TiffTag.PHOTOMETRIC, Photometric.MINISBLACK);
        tiff.SetField(TiffTag.PLANARCONFIG, PlanarConfig.CONTIG);
        tiff.SetField(TiffTag.ROWSPERSTRIP, height);
        for (var y = 0; y < height; y++)
        {
            tiff.WriteScanline(pixels.AsSpan(y * width, width).ToArray(), y);
        }

        tiff.WriteDirectory();
    }
}
