using System.Globalization;
using System.Text.Json;
using UNetCluster.Data.DataSets;
using UNetCluster.Data.Imaging;

namespace UNetCluster.Client.Tests;

public sealed class TrainCommandTests
{
    [Fact]
    public async Task Train_TinyPresetOnBundledData_WritesCheckpointPredictionsOverlayAndMetrics()
    {
        var run = Path.Combine(CliRunner.TemporaryDirectory(), "run");
        var (code, output, error) = await CliRunner.RunAsync("train", "--preset", "tiny", "--steps", "6", "--out", run);

        Assert.True(code == 0, error + output);
        Assert.Equal("000000006", File.ReadAllText(Path.Combine(run, "checkpoints", "latest")).Trim());
        Assert.True(File.Exists(Path.Combine(run, "checkpoints", "000000006", "model.safetensors")));
        foreach (var id in new[] { "slice-11", "slice-23" })
        {
            foreach (var suffix in new[] { ".probability.png", ".mask.png", ".overlay.png" })
            {
                Assert.True(File.Exists(Path.Combine(run, "predictions", "validation", id + suffix)), id + suffix);
            }
        }

        var overlay = ImageReader.ReadPages(Path.Combine(run, "predictions", "validation", "slice-11.mask.png"))[0];
        Assert.Equal((512, 512), (overlay.Width, overlay.Height));
        Assert.True(File.Exists(Path.Combine(run, "predictions", "unlabelled", "test-00.overlay.png")));
        Assert.Contains("pixel error", output, StringComparison.Ordinal);
        Assert.Contains("\"pixelError\"", File.ReadAllText(Path.Combine(run, "metrics.json")), StringComparison.Ordinal);
        Assert.Contains("step 6/6", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Train_ValidateEvery_MarksTheBestCheckpointByTheChosenMetricAndPredictTakesIt()
    {
        var run = Path.Combine(CliRunner.TemporaryDirectory(), "run");
        var (code, output, error) = await CliRunner.RunAsync("train", "--preset", "tiny", "--steps", "6", "--validate-every", "2", "--select-by", "rand-error", "--out", run);

        Assert.True(code == 0, error + output);
        Assert.Contains("validation at step 2: rand-error", output, StringComparison.Ordinal);
        Assert.Contains("validation at step 6: rand-error", output, StringComparison.Ordinal);
        var best = File.ReadAllText(Path.Combine(run, "checkpoints", "best")).Trim();
        Assert.Contains(best, new[] { "000000002", "000000004", "000000006" });
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "checkpoints", best, "manifest.json")));
        var selection = manifest.RootElement.GetProperty("selection");
        Assert.Equal("rand-error", selection.GetProperty("metric").GetString());
        Assert.Equal(selection.GetProperty("threshold").GetDouble(), manifest.RootElement.GetProperty("threshold").GetDouble());
        Assert.Contains($"Best checkpoint by validation: step {long.Parse(best, CultureInfo.InvariantCulture)} (rand-error", output, StringComparison.Ordinal);

        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "metrics.json")));
        Assert.Equal([2L, 4, 6], metrics.RootElement.GetProperty("validations").EnumerateArray().Select(v => v.GetProperty("step").GetInt64()));
        Assert.Equal(long.Parse(best, CultureInfo.InvariantCulture), metrics.RootElement.GetProperty("checkpointStep").GetInt64());

        // predict takes the run's best checkpoint unless told --latest.
        var predictions = Path.Combine(CliRunner.TemporaryDirectory(), "predictions");
        var image = Path.Combine(BundledData.UnlabelledDirectory, "test-00.png");
        var predicted = await CliRunner.RunAsync("predict", "--checkpoint", run, "--input", image, "--out", predictions);
        Assert.True(predicted.ExitCode == 0, predicted.Error);
        Assert.Contains("the best by validation: rand-error", predicted.Output, StringComparison.Ordinal);
        var latest = await CliRunner.RunAsync("predict", "--checkpoint", run, "--latest", "--input", image, "--out", Path.Combine(CliRunner.TemporaryDirectory(), "latest"));
        Assert.True(latest.ExitCode == 0, latest.Error);
        Assert.Contains("(step 6", latest.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("cosine", "adam at learning rate 0.004 decayed to 0 (cosine)")]
    [InlineData("cooldown", "adam at learning rate 0.004 decayed to 0 over the last 20 % (cooldown)")]
    public async Task Train_ResumeWithMoreSteps_ContinuesFromTheCheckpoint(string schedule, string trainingOn)
    {
        var run = Path.Combine(CliRunner.TemporaryDirectory(), "run");
        var first = await CliRunner.RunAsync("train", "--preset", "tiny", "--steps", "3", "--lr", "0.004", "--schedule", schedule, "--out", run);
        Assert.True(first.ExitCode == 0, first.Error);
        Assert.Contains(trainingOn, first.Output, StringComparison.Ordinal);   // tiny's own is constant
        var second = await CliRunner.RunAsync("train", "--resume", "--steps", "5", "--out", run);
        Assert.True(second.ExitCode == 0, second.Error + second.Output);
        Assert.Contains("Resuming at step 3", second.Output, StringComparison.Ordinal);
        Assert.Contains(trainingOn, second.Output, StringComparison.Ordinal);   // the run's own options kept
        Assert.Equal("000000005", File.ReadAllText(Path.Combine(run, "checkpoints", "latest")).Trim());
    }

    [Fact]
    public async Task Train_ResumeWhoseLatestPointerNamesAMissingCheckpoint_SaysSoResumesFromTheNewestAndRepairsThePointer()
    {
        var run = Path.Combine(CliRunner.TemporaryDirectory(), "run");
        Assert.Equal(0, (await CliRunner.RunAsync("train", "--preset", "tiny", "--steps", "4", "--out", run)).ExitCode);
        var pointer = Path.Combine(run, "checkpoints", "latest");
        File.WriteAllText(pointer, "000000777\n");

        var (code, output, error) = await CliRunner.RunAsync("train", "--resume", "--steps", "6", "--out", run);

        Assert.True(code == 0, error + output);
        Assert.Contains("Resuming at step 4.", output, StringComparison.Ordinal);
        // Not "777" alone: the run's temporary folder name is random hex and may hold it.
        Assert.DoesNotContain("step 777", output, StringComparison.Ordinal);
        Assert.DoesNotContain("000000777", output, StringComparison.Ordinal);
        Assert.Contains("names step 777, which has no checkpoint", error, StringComparison.Ordinal);
        Assert.Equal("000000006", File.ReadAllText(pointer).Trim());
    }

    [Fact]
    public async Task Train_TimeBudgetEndingBeforeTheFirstStep_ExitsTwoNamingMinutesAndLeavesNoRunFolder()
    {
        var run = Path.Combine(CliRunner.TemporaryDirectory(), "run");

        var (code, output, error) = await CliRunner.RunAsync("train", "--preset", "tiny", "--minutes", "0.0000001", "--out", run);

        Assert.True(code == 2, error + output);
        Assert.Contains("--minutes", error, StringComparison.Ordinal);
        Assert.Contains("before any checkpoint", error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(run), "a run that cannot be resumed is not left behind");
    }

    [Fact]
    public async Task Train_SectionsSmallerThanTheTilesOutput_RefusesAGivenTileNamingTheLargestAndFitsThePresetsSayingSo()
    {
        var folder = CliRunner.TemporaryDirectory();
        var images = Directory.CreateDirectory(Path.Combine(folder, "images")).FullName;
        var masks = Directory.CreateDirectory(Path.Combine(folder, "masks")).FullName;
        for (var i = 0; i < 3; i++)
        {
            var mask = new byte[64 * 64];
            for (var p = 0; p < mask.Length; p++)
            {
                mask[p] = p % 64 < 32 ? (byte)255 : (byte)0;
            }

            PngWriter.WriteGray8(Path.Combine(images, $"s{i}.png"), [.. Enumerable.Range(0, 64 * 64).Select(p => (byte)(p % 251))], 64, 64);
            PngWriter.WriteGray8(Path.Combine(masks, $"s{i}.png"), mask, 64, 64);
        }

        var before = CliRunner.Snapshot(folder);
        var run = Path.Combine(folder, "run");

        var (code, output, error) = await CliRunner.RunAsync("train", "--images", images, "--masks", masks, "--preset", "tiny", "--tile", "124", "--out", run);

        Assert.True(code == 2, error + output);
        Assert.Contains("--tile 124 is too large", error, StringComparison.Ordinal);
        Assert.Contains("section 's0' (64 x 64)", error, StringComparison.Ordinal);
        Assert.Contains("at most 104", error, StringComparison.Ordinal);
        Assert.Equal(before, CliRunner.Snapshot(folder));
        Assert.False(Directory.Exists(run));

        // No --tile: the preset's 124 does not fit, so the run takes the largest that does and says so.
        var fitted = await CliRunner.RunAsync("train", "--images", images, "--masks", masks, "--preset", "tiny", "--steps", "2", "--validation-sections", "1", "--out", run);

        Assert.True(fitted.ExitCode == 0, fitted.Error + fitted.Output);
        Assert.Contains("Tile: 104x104, the largest whose output (64 x 64) fits the smallest section, 's0' (64 x 64); the preset's 124 does not (--tile chooses another).", fitted.Output, StringComparison.Ordinal);
        Assert.Contains("2 steps of 2 tile(s) 104x104", fitted.Output, StringComparison.Ordinal);
        using var manifest = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "checkpoints", "000000002", "manifest.json")));
        Assert.Equal(104, manifest.RootElement.GetProperty("training").GetProperty("tileSize").GetInt32());
    }

    [Fact]
    public async Task Train_ExistingRunWithoutResume_IsRefusedAndLeftUnchanged()
    {
        var run = Path.Combine(CliRunner.TemporaryDirectory(), "run");
        Assert.Equal(0, (await CliRunner.RunAsync("train", "--preset", "tiny", "--steps", "2", "--out", run)).ExitCode);
        var before = CliRunner.Snapshot(run);
        var (code, _, error) = await CliRunner.RunAsync("train", "--preset", "tiny", "--out", run);
        Assert.Equal(2, code);
        Assert.Contains("--resume", error, StringComparison.Ordinal);
        Assert.Equal(before, CliRunner.Snapshot(run));
    }

    [Theory]
    [InlineData("--tile", "570", "556 or 572")]
    [InlineData("--preset", "huge", "--preset 'huge' is unknown: expected quick, quality, nuclei, paper or tiny.")]
    [InlineData("--steps", "-3", "--steps -3")]
    [InlineData("--optimizer", "rmsprop", "sgd or adam")]
    [InlineData("--loss", "focal", "weighted-cross-entropy, soft-dice or dice-cross-entropy")]
    [InlineData("--validation-sections", "24", "24 labelled sections")]
    public async Task Train_BadOption_NamesItAndWritesNothing(string option, string value, string expected)
    {
        var parent = CliRunner.TemporaryDirectory();
        var run = Path.Combine(parent, "run");
        var (code, _, error) = await CliRunner.RunAsync("train", option, value, "--out", run);
        Assert.Equal(2, code);
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(run), "nothing is written for a refused run");
    }

    [Fact]
    public async Task Train_ImagesWithoutMasks_IsRefused()
    {
        var (code, _, error) = await CliRunner.RunAsync("train", "--images", BundledData.ImagesDirectory, "--out", CliRunner.TemporaryDirectory());
        Assert.Equal(2, code);
        Assert.Contains("--images and --masks go together", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Train_MaskOfAnotherSize_NamesTheFileAndLeavesTheInputsUnchanged()
    {
        var folder = CliRunner.TemporaryDirectory();
        var images = Path.Combine(folder, "images");
        var masks = Path.Combine(folder, "masks");
        Directory.CreateDirectory(images);
        Directory.CreateDirectory(masks);
        foreach (var id in new[] { "slice-00", "slice-01", "slice-02" })
        {
            File.Copy(Path.Combine(BundledData.ImagesDirectory, id + ".png"), Path.Combine(images, id + ".png"));
            File.Copy(Path.Combine(BundledData.MasksDirectory, id + ".png"), Path.Combine(masks, id + ".png"));
        }

        PngWriter.WriteGray8(Path.Combine(masks, "slice-01.png"), new byte[100 * 80], 100, 80);
        var before = CliRunner.Snapshot(folder);
        var run = Path.Combine(folder, "run");

        var (code, _, error) = await CliRunner.RunAsync("train", "--images", images, "--masks", masks, "--preset", "tiny", "--out", run);

        Assert.Equal(2, code);
        Assert.Contains("slice-01.png", error, StringComparison.Ordinal);
        Assert.Contains("100x80", error.Replace(" x ", "x", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Equal(before, CliRunner.Snapshot(folder));
        Assert.False(Directory.Exists(run));
    }
}
