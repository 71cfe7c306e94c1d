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
    }
}
