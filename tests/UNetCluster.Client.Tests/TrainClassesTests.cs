using System.Text.Json;
using UNetCluster.Data.Imaging;

namespace UNetCluster.Client.Tests;

/// <summary>
/// Class-index masks end to end (<c>unet train --mask-kind classes</c>, <c>predict</c>, <c>evaluate --mask-kind
/// classes</c>) through the in-process silo on generated images, the border class of instance masks, and the
/// refusals of options that contradict the data.
/// </summary>
public sealed class TrainClassesTests
{
    private const int Size = 128;

    [Fact]
    public async Task TrainPredictEvaluate_ThreeClassMasks_WritesClassIndexPngsALegendOverlayAndPerClassScores()
    {
        var (folder, images, masks) = ClassData(4, 2);
        var run = Path.Combine(folder, "run");
        var predicted = Path.Combine(folder, "predicted");

        var (code, output, error) = await CliRunner.RunAsync(
            "train", "--images", images, "--masks", masks, "--mask-kind", "classes", "--preset", "tiny", "--steps", "2", "--validation-sections", "1",
            "--loss", "dice-cross-entropy", "--unlabelled", Path.Combine(images, "s0.png"), "--out", run);
        var predict = await CliRunner.RunAsync("predict", "--checkpoint", run, "--input", images, "--out", predicted);
        var evaluate = await CliRunner.RunAsync("evaluate", "--predictions", predicted, "--masks", masks, "--mask-kind", "classes", "--json");

        Assert.True(code == 0, error + output);
        Assert.Contains("Masks: class indices, 3 classes (0..2)", output, StringComparison.Ordinal);
        Assert.Contains("Classes (Dice and IoU per class", output, StringComparison.Ordinal);
        var classes = ImageReader.Read(Assert.Single(Directory.GetFiles(Path.Combine(run, "predictions", "validation"), "*.classes.png")));
        Assert.Equal((Size, Size, 8), (classes.Width, classes.Height, classes.BitDepth));
        Assert.All(classes.Values, v => Assert.InRange(v, 0, 2));
        Assert.True(File.Exists(Path.Combine(run, "predictions", "unlabelled", "s0.probability.2.png")));
        using (var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "metrics.json"))))
        {
            Assert.Equal(3, metrics.RootElement.GetProperty("classes").GetProperty("classes").GetArrayLength());
        }

        Assert.True(predict.ExitCode == 0, predict.Error);
        Assert.Contains("3 classes (the most probable per pixel)", predict.Output, StringComparison.Ordinal);
        Assert.Contains("Classes: 0 (untinted), 1 (#1f77b4), 2 (#ff7f0e)", predict.Output, StringComparison.Ordinal);
        var overlay = ImageReader.Read(Path.Combine(predicted, "s1.classes.png"));
        Assert.Equal(Size, overlay.Width);
        Assert.True(PngHeight(Path.Combine(predicted, "s1.overlay.png")) > Size, "the overlay has a legend below the image");

        Assert.True(evaluate.ExitCode == 0, evaluate.Error);
        using var json = JsonDocument.Parse(evaluate.Output);
        var mean = json.RootElement.GetProperty("classes");
        Assert.Equal(3, mean.GetProperty("classes").GetArrayLength());
        Assert.Equal(4, json.RootElement.GetProperty("images").GetArrayLength());
        Assert.InRange(mean.GetProperty("classes")[2].GetProperty("truthPixels").GetInt64(), 1, 4L * Size * Size);
        Assert.Equal(JsonValueKind.Number, json.RootElement.GetProperty("images")[0].GetProperty("classes").GetProperty("classes")[1].GetProperty("dice").ValueKind);
    }

    [Fact]
    public async Task TrainPredictEvaluate_ColourMasksWithClassesJson_NameTheClassesInTheReportLegendAndScores()
    {
        var (folder, images, grayMasks) = ClassData(3, 2);
        var masks = Path.Combine(folder, "colour-masks");
        Directory.CreateDirectory(masks);
        File.WriteAllText(Path.Combine(masks, "classes.json"),
            """{"classes": [{"index": 0, "name": "background", "colour": "#000000"}, {"index": 1, "name": "gland", "colour": "#ff0000"}, {"index": 2, "name": "stroma", "colour": [0, 0, 255]}]}""");
        foreach (var file in Directory.GetFiles(grayMasks))
        {
            var indices = ImageReader.Read(file).Values;
            var rgb = new byte[indices.Length * 3];
            for (var i = 0; i < indices.Length; i++)
            {
                (rgb[3 * i], rgb[(3 * i) + 2]) = (indices[i] == 1 ? (byte)255 : (byte)0, indices[i] == 2 ? (byte)255 : (byte)0);
            }

            PngWriter.WriteRgb8(Path.Combine(masks, Path.GetFileName(file)), rgb, Size, Size);
        }

        var run = Path.Combine(folder, "run");
        var predicted = Path.Combine(folder, "predicted");

        var (code, output, error) = await CliRunner.RunAsync(
            "train", "--images", images, "--masks", masks, "--mask-kind", "classes", "--preset", "tiny", "--steps", "1", "--validation-sections", "1",
            "--unlabelled", Path.Combine(images, "s0.png"), "--out", run);
        var predict = await CliRunner.RunAsync("predict", "--checkpoint", run, "--input", Path.Combine(images, "s1.png"), "--out", predicted);
        var evaluate = await CliRunner.RunAsync("evaluate", "--predictions", predicted, "--masks", masks, "--mask-kind", "classes");

        Assert.True(code == 0, error + output);
        Assert.Contains("Masks: class indices, 3 classes: 0 background, 1 gland, 2 stroma", output, StringComparison.Ordinal);
        Assert.True(predict.ExitCode == 0, predict.Error);
        Assert.Contains("Classes: 0 background (untinted), 1 gland (#1f77b4), 2 stroma (#ff7f0e)", predict.Output, StringComparison.Ordinal);
        Assert.Equal(2, evaluate.ExitCode);   // s0 and s2 have no prediction: each is named
        Assert.Contains("s0.png: no prediction named s0.classes.png", evaluate.Error, StringComparison.Ordinal);
        File.Delete(Path.Combine(masks, "s0.png"));
        File.Delete(Path.Combine(masks, "s2.png"));
        var scored = await CliRunner.RunAsync("evaluate", "--predictions", predicted, "--masks", masks, "--mask-kind", "classes");
        Assert.True(scored.ExitCode == 0, scored.Error);
        Assert.Contains("class 2 stroma", scored.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TrainPredictEvaluate_BorderClassOnInstanceMasks_WritesObjectLabelsWithoutInstancesAndEvaluateScoresThem()
    {
        var (folder, images, masks) = ClassData(3, 2, instances: true);
        var run = Path.Combine(folder, "run");
        var predicted = Path.Combine(folder, "predicted");
        var withoutLabels = Path.Combine(folder, "without-labels");

        var (code, output, error) = await CliRunner.RunAsync(
            "train", "--images", images, "--masks", masks, "--mask-kind", "instances", "--border-class", "--preset", "tiny", "--steps", "1",
            "--validation-sections", "1", "--unlabelled", Path.Combine(images, "s0.png"), "--class-weights", "1,1,100", "--oversample", "0.5", "--out", run);
        var predict = await CliRunner.RunAsync("predict", "--checkpoint", run, "--input", images, "--out", predicted);
        var optedOut = await CliRunner.RunAsync("predict", "--checkpoint", run, "--input", Path.Combine(images, "s0.png"), "--out", withoutLabels, "--instances", "false");
        var evaluate = await CliRunner.RunAsync("evaluate", "--predictions", predicted, "--masks", masks, "--mask-kind", "instances");

        Assert.True(code == 0, error + output);
        Assert.Contains("trained as 3 classes: background, interior, and the border between touching objects", output, StringComparison.Ordinal);
        Assert.Contains("Cross-entropy weights by class: 0 1, 1 1, 2 100 (fixed, in place of the class balance).", output, StringComparison.Ordinal);
        Assert.Contains("Oversampling: 50% of the tiles are placed over a pixel of their section's rarest class other than the background", output, StringComparison.Ordinal);
        Assert.Contains("Objects: F1@0.5", output, StringComparison.Ordinal);
        Assert.True(System.Text.RegularExpressions.Regex.IsMatch(output, @"validation at step 1: .*, contacts marked as border \d+\.\d %"), output);   // the two discs touch
        Assert.Contains("\"contactsMarked\":", File.ReadAllText(Path.Combine(run, "metrics.json")), StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(run, "predictions", "unlabelled", "s0.instances.png")));
        Assert.True(File.Exists(Path.Combine(run, "predictions", "unlabelled", "s0.classes.png")));
        Assert.True(predict.ExitCode == 0, predict.Error);
        var labels = ImageReader.Read(Path.Combine(predicted, "s1.instances.png"));
        Assert.Equal((Size, Size, 16), (labels.Width, labels.Height, labels.BitDepth));
        Assert.True(optedOut.ExitCode == 0, optedOut.Error);
        Assert.True(File.Exists(Path.Combine(withoutLabels, "s0.mask.png")));
        Assert.False(File.Exists(Path.Combine(withoutLabels, "s0.instances.png")));
        Assert.True(evaluate.ExitCode == 0, evaluate.Error);
        Assert.Contains("predicted objects are the predicted instance labels ({id}.instances.png))", evaluate.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Train_OnARunFolderAnotherTrainingHolds_IsRefusedAndChangesNothing()
    {
        var (folder, images, masks) = ClassData(2, 2, instances: true);
        var run = Path.Combine(folder, "run");
        Directory.CreateDirectory(run);
        File.WriteAllText(Path.Combine(run, "run.json"), "{}");

        using (new FileStream(Path.Combine(run, ".lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            var held = await CliRunner.RunAsync("train", "--images", images, "--masks", masks, "--mask-kind", "instances", "--preset", "tiny", "--steps", "1", "--validation-sections", "1", "--out", run);

            Assert.Equal(2, held.ExitCode);
            Assert.Contains($"--out {run} is in use by another unet train", held.Error, StringComparison.Ordinal);
            Assert.Equal([".lock", "run.json"], Directory.GetFileSystemEntries(run).Select(Path.GetFileName).Order(StringComparer.Ordinal));
            Assert.Equal("{}", File.ReadAllText(Path.Combine(run, "run.json")));   // the other training's record untouched
        }
    }

    [Fact]
    public async Task Train_BorderClassFalseWithTheNucleiPreset_TrainsTwoClasses()
    {
        var (folder, images, masks) = ClassData(3, 2, instances: true);
        var run = Path.Combine(folder, "run");

        var (code, output, error) = await CliRunner.RunAsync(
            "train", "--images", images, "--masks", masks, "--mask-kind", "instances", "--preset", "nuclei", "--border-class", "false",
            "--tile", "188", "--steps", "1", "--validation-sections", "1", "--out", run);

        Assert.True(code == 0, error + output);
        Assert.Contains("touching objects are trained apart, with a background border between them", output, StringComparison.Ordinal);
        Assert.DoesNotContain("trained as 3 classes", output, StringComparison.Ordinal);
        Assert.DoesNotContain("--preset nuclei", output, StringComparison.Ordinal);   // no advice to use the preset it runs
        Assert.Contains("\"classes\": 2", File.ReadAllText(Directory.GetFiles(Path.Combine(run, "checkpoints"), "manifest.json", SearchOption.AllDirectories)[0]), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Train_OptionsThatContradictTheData_AreRefusedNamingTheOptionAndNothingIsWritten()
    {
        var (folder, images, masks) = ClassData(2, 3);
        var run = Path.Combine(folder, "run");

        var classesOnAuto = await CliRunner.RunAsync("train", "--images", images, "--masks", masks, "--classes", "3", "--preset", "tiny", "--out", run);
        var tooFew = await CliRunner.RunAsync("train", "--images", images, "--masks", masks, "--mask-kind", "classes", "--classes", "3", "--preset", "tiny", "--out", run);
        var borderOnClasses = await CliRunner.RunAsync("train", "--images", images, "--masks", masks, "--mask-kind", "classes", "--border-class", "--preset", "tiny", "--out", run);
        var binaryOnClasses = await CliRunner.RunAsync("train", "--images", images, "--masks", masks, "--mask-kind", "binary", "--preset", "tiny", "--out", run);
        var widthWithoutBorder = await CliRunner.RunAsync("train", "--images", images, "--masks", masks, "--border-width", "2", "--preset", "tiny", "--out", run);

        Assert.Equal(2, classesOnAuto.ExitCode);
        Assert.Contains("--classes 3 is for class-index masks: pass --mask-kind classes", classesOnAuto.Error, StringComparison.Ordinal);
        Assert.Equal(2, tooFew.ExitCode);
        Assert.Contains(Path.Combine(masks, "s0.png") + ": class index 3 at pixel", tooFew.Error, StringComparison.Ordinal);
        Assert.Contains("--classes 3 allows the indices 0..2", tooFew.Error, StringComparison.Ordinal);
        Assert.Equal(2, borderOnClasses.ExitCode);
        Assert.Contains("--border-class needs instance masks", borderOnClasses.Error, StringComparison.Ordinal);
        Assert.Equal(2, binaryOnClasses.ExitCode);
        Assert.Contains("--mask-kind binary was given", binaryOnClasses.Error, StringComparison.Ordinal);
        Assert.Equal(2, widthWithoutBorder.ExitCode);
        Assert.Contains("--border-width 2 is invalid: expected 1 without --border-class", widthWithoutBorder.Error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(run));
    }

    [Fact]
    public async Task Evaluate_PredictedIndexAtOrAboveClasses_IsRefusedNamingTheFile()
    {
        var (folder, _, masks) = ClassData(1, 2);
        var predicted = Path.Combine(folder, "predicted");
        PngWriter.WriteGray8(Path.Combine(predicted, "s0.classes.png"), [.. Enumerable.Repeat((byte)5, Size * Size)], Size, Size);

        var (code, _, error) = await CliRunner.RunAsync("evaluate", "--predictions", predicted, "--masks", masks, "--mask-kind", "classes", "--classes", "3");

        Assert.Equal(2, code);
        Assert.Contains("s0.classes.png: class index 5 at pixel (x 0, y 0)", error, StringComparison.Ordinal);
    }

    /// <summary>
    /// Images with a bright disc (class 1, or object ids) and a mid-gray square (class <paramref name="lastClass"/>) on a
    /// textured background; with <paramref name="instances"/>, two touching discs as object ids 1 and 2 instead.
    /// </summary>
    private static (string Folder, string Images, string Masks) ClassData(int count, int lastClass, bool instances = false)
    {
        var folder = CliRunner.TemporaryDirectory();
        var images = Path.Combine(folder, "images");
        var masks = Path.Combine(folder, "masks");
        for (var k = 0; k < count; k++)
        {
            var image = new byte[Size * Size];
            var mask = new byte[Size * Size];
            for (var y = 0; y < Size; y++)
            {
                for (var x = 0; x < Size; x++)
                {
                    var i = (y * Size) + x;
                    image[i] = (byte)(30 + ((x * 7 + y * 13 + k) % 20));
                    int DiscAt(int cx, int cy) => ((x - cx) * (x - cx)) + ((y - cy) * (y - cy)) <= 14 * 14 ? 1 : 0;
                    if (instances)
                    {
                        var id = DiscAt(40 + k, 50) == 1 ? 1 : DiscAt(67 + k, 50) == 1 ? 2 : 0;
                        mask[i] = (byte)id;
                        image[i] = id != 0 ? (byte)(180 + ((x + y) % 30)) : image[i];
                    }
                    else if (DiscAt(40 + k, 40) == 1)
                    {
                        (mask[i], image[i]) = (1, (byte)(200 + ((x + y) % 30)));
                    }
                    else if (x is >= 70 and < 100 && y >= 75 - k && y < 105 - k)
                    {
                        (mask[i], image[i]) = ((byte)lastClass, (byte)(110 + ((x * y) % 15)));
                    }
                }
            }

            PngWriter.WriteGray8(Path.Combine(images, $"s{k}.png"), image, Size, Size);
            PngWriter.WriteGray8(Path.Combine(masks, $"s{k}.png"), mask, Size, Size);
        }

        return (folder, images, masks);
    }

    private static int PngHeight(string path)
    {
        var png = File.ReadAllBytes(path);
        return (png[20] << 24) | (png[21] << 16) | (png[22] << 8) | png[23];
    }
}
