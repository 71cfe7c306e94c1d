using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using UNetCluster.Model.Metrics;
using UNetCluster.Data.Imaging;

namespace UNetCluster.Client.Tests;

/// <summary><c>unet train --mask-kind instances</c> end to end through the in-process silo, on generated touching objects.</summary>
public sealed class TrainInstancesTests
{
    private const int Size = 160;

    [Fact]
    public async Task Train_EightBitIdMasks_TrainsAndWritesObjectLabelsAndObjectScores()
    {
        var folder = CliRunner.TemporaryDirectory();
        var images = Path.Combine(folder, "images");
        var masks = Path.Combine(folder, "masks");
        for (var k = 0; k < 4; k++)
        {
            var (image, ids) = TouchingDiscs(k);
            PngWriter.WriteGray8(Path.Combine(images, $"s{k}.png"), image, Size, Size);
            PngWriter.WriteGray8(Path.Combine(masks, $"s{k}.png"), ids, Size, Size);
        }

        var run = Path.Combine(folder, "run");
        var refused = await CliRunner.RunAsync("train", "--images", images, "--masks", masks, "--preset", "tiny", "--steps", "2", "--out", Path.Combine(folder, "refused"));
        var (code, output, error) = await CliRunner.RunAsync(
            "train", "--images", images, "--masks", masks, "--mask-kind", "instances", "--preset", "tiny", "--steps", "2", "--validation-sections", "1",
            "--unlabelled", Path.Combine(images, "s0.png"), "--out", run);

        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("--mask-kind instances", refused.Error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(folder, "refused", "checkpoints")));
        Assert.True(code == 0, error + output);
        Assert.Contains("Masks: object ids (instance masks) in 4 of 4 sections", output, StringComparison.Ordinal);
        Assert.Contains("For fluorescence nuclei, --preset nuclei", output, StringComparison.Ordinal);   // the preset made for such data, named
        Assert.Contains("Objects: F1@0.5", output, StringComparison.Ordinal);
        var validation = Directory.GetFiles(Path.Combine(run, "predictions", "validation"), "*.instances.png");
        var labels = ImageReader.Read(Assert.Single(validation));
        Assert.Equal((Size, Size, 16), (labels.Width, labels.Height, labels.BitDepth));
        Assert.True(File.Exists(Path.Combine(run, "predictions", "unlabelled", "s0.instances.png")));
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "metrics.json")));
        Assert.True(metrics.RootElement.GetProperty("objects").GetProperty("truth").GetInt32() >= 2);
        Assert.Equal("instances", JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "run.json"))).RootElement.GetProperty("maskKind").GetString());
        Assert.Contains(metrics.RootElement.GetProperty("selection").GetProperty("minObjectPixels").GetInt32(), ThresholdSweep.ObjectSizeCandidates);

        // predict leaves out the objects under the checkpoint's calibrated size unless told otherwise: here one larger than the
        // image, at a threshold so low that the 2-step model's mask has objects.
        var best = Path.Combine(run, "checkpoints", metrics.RootElement.GetProperty("checkpointStep").GetInt64().ToString("D9", CultureInfo.InvariantCulture));
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(best, "manifest.json")))!;
        Assert.NotNull(manifest["minObjectPixels"]);   // recorded for instance truth: predict writes object labels unasked
        manifest["minObjectPixels"] = (Size * Size) + 1;
        File.WriteAllText(Path.Combine(best, "manifest.json"), manifest.ToJsonString());
        var calibrated = await CliRunner.RunAsync("predict", "--checkpoint", best, "--input", Path.Combine(images, "s1.png"), "--instances", "--threshold", "0.01", "--out", Path.Combine(folder, "calibrated"));
        var told = await CliRunner.RunAsync("predict", "--checkpoint", best, "--input", Path.Combine(images, "s1.png"), "--instances", "--threshold", "0.01", "--min-object-pixels", "0", "--out", Path.Combine(folder, "told"));
        var unasked = await CliRunner.RunAsync("predict", "--checkpoint", best, "--input", Path.Combine(images, "s1.png"), "--threshold", "0.01", "--min-object-pixels", "0", "--out", Path.Combine(folder, "unasked"));

        Assert.True(calibrated.ExitCode == 0, calibrated.Error);
        Assert.Contains($"Objects of fewer than {(Size * Size) + 1} pixels are left out of the labels (calibrated on the run's validation sections", calibrated.Output, StringComparison.Ordinal);
        Assert.All(ImageReader.Read(Path.Combine(folder, "calibrated", "s1.instances.png")).Values, v => Assert.Equal(0, v));
        Assert.True(told.ExitCode == 0, told.Error);
        Assert.Contains(ImageReader.Read(Path.Combine(folder, "told", "s1.instances.png")).Values, v => v != 0);
        Assert.True(unasked.ExitCode == 0, unasked.Error);
        Assert.Equal(File.ReadAllBytes(Path.Combine(folder, "told", "s1.instances.png")), File.ReadAllBytes(Path.Combine(folder, "unasked", "s1.instances.png")));   // a two-class model trained on instances writes its objects unasked
    }

    [Fact]
    public async Task Train_MaxImagePixelsBelowTheSections_RefusesBeforeWritingNamingTheLimit()
    {
        var run = Path.Combine(CliRunner.TemporaryDirectory(), "run");

        var (code, output, error) = await CliRunner.RunAsync("train", "--preset", "tiny", "--steps", "1", "--max-image-pixels", "100000", "--out", run);

        Assert.Equal(2, code);
        // All 24 bundled sections are over the limit, image and mask: one line names the first five files and the count.
        Assert.Contains("48 files (", error, StringComparison.Ordinal);
        Assert.Contains("slice-00.png, ", error, StringComparison.Ordinal);
        Assert.Contains(" and 43 more): is too large: its image is 512x512 = 262,144 pixels, over the limit of 100,000 pixels per image", error, StringComparison.Ordinal);
        Assert.Contains("--max-image-pixels", error, StringComparison.Ordinal);
        Assert.DoesNotContain("Run folder", output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(run));
    }

    /// <summary>Bright discs on a dark textured background, two of them touching, with their ids (1..4) as the mask.</summary>
    private static (byte[] Image, byte[] Ids) TouchingDiscs(int seed)
    {
        var image = new byte[Size * Size];
        var ids = new byte[Size * Size];
        var centres = new[] { (50 + seed, 60), (79 + seed, 60), (110, 115 - seed), (40, 120) };
        for (var y = 0; y < Size; y++)
        {
            for (var x = 0; x < Size; x++)
            {
                var i = (y * Size) + x;
                image[i] = (byte)(30 + ((x * 7 + y * 13 + seed) % 20));
                for (var k = 0; k < centres.Length; k++)
                {
                    var (cx, cy) = centres[k];
                    if (((x - cx) * (x - cx)) + ((y - cy) * (y - cy)) <= 15 * 15 && ids[i] == 0)
                    {
                        ids[i] = (byte)(k + 1);
                        image[i] = (byte)(180 + ((x + y) % 30));
                    }
                }
            }
        }

        return (image, ids);
    }
}
