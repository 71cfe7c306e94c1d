using System.Text.Json;
using UNetCluster.Data.Imaging;

namespace UNetCluster.Client.Tests;

/// <summary><c>unet evaluate --mask-kind instances</c>: object scores against instance ground truth.</summary>
public sealed class EvaluateObjectsTests
{
    [Fact]
    public async Task Evaluate_InstanceTruthWithTwoObjectsPredictedAsOne_ReportsThemMerged()
    {
        // Truth: three 8x8 objects (ids 5, 6, 7) in a 30x10 image; prediction: the same, with the first two bridged.
        const int width = 30;
        var folder = CliRunner.TemporaryDirectory();
        var truth = Path.Combine(folder, "truth");
        var predicted = Path.Combine(folder, "predicted");
        var ids = new byte[width * 10];
        var mask = new byte[width * 10];
        for (var y = 1; y < 9; y++)
        {
            for (var x = 1; x < 29; x++)
            {
                var id = x < 9 ? 5 : x is >= 11 and < 19 ? 6 : x >= 21 ? 7 : 0;
                ids[(y * width) + x] = (byte)id;
                mask[(y * width) + x] = (byte)(id != 0 || x is 9 or 10 ? 255 : 0);
            }
        }

        PngWriter.WriteGray8(Path.Combine(truth, "a.png"), ids, width, 10);
        PngWriter.WriteGray8(Path.Combine(predicted, "a.mask.png"), mask, width, 10);

        var refused = await CliRunner.RunAsync("evaluate", "--predictions", predicted, "--masks", truth);
        var (code, output, error) = await CliRunner.RunAsync("evaluate", "--predictions", predicted, "--masks", truth, "--mask-kind", "instances", "--json");
        var text = await CliRunner.RunAsync("evaluate", "--predictions", predicted, "--masks", truth, "--mask-kind", "instances");

        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("--mask-kind instances", refused.Error, StringComparison.Ordinal);
        Assert.True(code == 0, error);
        using var json = JsonDocument.Parse(output);
        var objects = json.RootElement.GetProperty("objects");
        Assert.Equal(3, objects.GetProperty("truth").GetInt32());
        Assert.Equal(2, objects.GetProperty("predicted").GetInt32());
        Assert.Equal(1, objects.GetProperty("matched").GetInt32());
        Assert.Equal(2, objects.GetProperty("merged").GetInt32());
        Assert.Equal(0.4, objects.GetProperty("f1").GetDouble(), 12);

        // Where the merge is: the bridged prediction (x 1..18, y 1..8) and the two objects it holds.
        var merge = Assert.Single(json.RootElement.GetProperty("images")[0].GetProperty("merges").EnumerateArray());
        Assert.Equal((1, 1, 18, 8, 144), (merge.GetProperty("box").GetProperty("minX").GetInt32(), merge.GetProperty("box").GetProperty("minY").GetInt32(),
            merge.GetProperty("box").GetProperty("maxX").GetInt32(), merge.GetProperty("box").GetProperty("maxY").GetInt32(), merge.GetProperty("pixels").GetInt32()));
        Assert.Equal([(1, 8, 64), (11, 18, 64)], merge.GetProperty("objects").EnumerateArray()
            .Select(o => (o.GetProperty("box").GetProperty("minX").GetInt32(), o.GetProperty("box").GetProperty("maxX").GetInt32(), o.GetProperty("pixels").GetInt32())));
        Assert.True(text.ExitCode == 0, text.Error);
        Assert.Contains(
            "Merging predictions (each holds at least half of two or more true objects): 1, holding 2 true objects:" + Environment.NewLine +
            "  a                    x 1-18, y 1-8 (144 px) holds 2: 64 px at x 1-8, y 1-8; 64 px at x 11-18, y 1-8",
            text.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Evaluate_InstanceLabelsBesideTheMask_ScoresTheLabelsElseTheMasksComponents()
    {
        // Truth: two touching 9x8 objects (ids 1 and 2) in a 20x10 image. The mask shows them shrunk and joined, as
        // one 16x6 blob inside them; the instance labels (16-bit, ids 7 and 300) are the two objects exactly.
        const int width = 20;
        var folder = CliRunner.TemporaryDirectory();
        var truth = Path.Combine(folder, "truth");
        var binary = Path.Combine(folder, "binary-truth");
        var maskOnly = Path.Combine(folder, "mask-only");
        var withLabels = Path.Combine(folder, "with-labels");
        var ids = new byte[width * 10];
        var mask = new byte[width * 10];
        var labels = new ushort[width * 10];
        for (var y = 1; y < 9; y++)
        {
            for (var x = 1; x < 19; x++)
            {
                var i = (y * width) + x;
                ids[i] = (byte)(x < 10 ? 1 : 2);
                labels[i] = (ushort)(x < 10 ? 7 : 300);
                mask[i] = (byte)(x is >= 2 and < 18 && y is >= 2 and < 8 ? 255 : 0);
            }
        }

        PngWriter.WriteGray8(Path.Combine(truth, "a.png"), ids, width, 10);
        PngWriter.WriteGray8(Path.Combine(binary, "a.png"), [.. ids.Select(v => (byte)(v == 0 ? 0 : 255))], width, 10);
        PngWriter.WriteGray8(Path.Combine(maskOnly, "a.mask.png"), mask, width, 10);
        PngWriter.WriteGray8(Path.Combine(withLabels, "a.mask.png"), mask, width, 10);
        PngWriter.WriteGray16(Path.Combine(withLabels, "a.instances.png"), labels, width, 10);

        var fromMask = await CliRunner.RunAsync("evaluate", "--predictions", maskOnly, "--masks", truth, "--mask-kind", "instances", "--json");
        var fromLabels = await CliRunner.RunAsync("evaluate", "--predictions", withLabels, "--masks", truth, "--mask-kind", "instances", "--json");
        var text = await CliRunner.RunAsync("evaluate", "--predictions", withLabels, "--masks", truth, "--mask-kind", "instances");
        var binaryTruth = await CliRunner.RunAsync("evaluate", "--predictions", withLabels, "--masks", binary, "--mask-kind", "binary");

        Assert.True(fromMask.ExitCode == 0, fromMask.Error);
        using (var json = JsonDocument.Parse(fromMask.Output))
        {
            // One blob of 96 pixels: IoU 48 / 120 with each object, so none matched, both merged; Dice 2 * 96 / (96 + 144).
            var objects = json.RootElement.GetProperty("objects");
            Assert.Equal((2, 1, 0, 2), (objects.GetProperty("truth").GetInt32(), objects.GetProperty("predicted").GetInt32(),
                objects.GetProperty("matched").GetInt32(), objects.GetProperty("merged").GetInt32()));
            Assert.Equal(0.8, json.RootElement.GetProperty("mean").GetProperty("dice").GetDouble(), 12);
        }

        Assert.True(fromLabels.ExitCode == 0, fromLabels.Error);
        using (var json = JsonDocument.Parse(fromLabels.Output))
        {
            var objects = json.RootElement.GetProperty("objects");
            Assert.Equal((2, 2, 2, 0), (objects.GetProperty("truth").GetInt32(), objects.GetProperty("predicted").GetInt32(),
                objects.GetProperty("matched").GetInt32(), objects.GetProperty("merged").GetInt32()));
            Assert.Equal(1.0, objects.GetProperty("f1").GetDouble(), 12);
            Assert.Equal(1.0, json.RootElement.GetProperty("mean").GetProperty("dice").GetDouble(), 12);
        }

        Assert.True(text.ExitCode == 0, text.Error);
        Assert.Contains("predicted objects are the predicted instance labels ({id}.instances.png)", text.Output, StringComparison.Ordinal);
        Assert.True(binaryTruth.ExitCode == 0, binaryTruth.Error);
        Assert.Matches(@"mean\s+0\.0+\s+1\.0+\s+1\.0+", binaryTruth.Output);
        Assert.Contains("Predicted foreground: the predicted instance labels ({id}.instances.png).", binaryTruth.Output, StringComparison.Ordinal);
    }
}
