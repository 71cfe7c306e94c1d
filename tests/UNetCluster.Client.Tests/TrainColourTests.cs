using System.Text.Json;
using UNetCluster.Data.Imaging;

namespace UNetCluster.Client.Tests;

/// <summary>RGB images through <c>unet train</c> and <c>unet predict</c>: the network's input channels follow the data.</summary>
public sealed class TrainColourTests
{
    private const int Size = 128;

    [Fact]
    public async Task Train_RgbImagesWithPercentileNormalisation_CheckpointTakesThreeChannelsAndPredictReproducesItsPrediction()
    {
        var folder = CliRunner.TemporaryDirectory();
        var (images, masks) = WriteSet(folder, count: 3);
        var run = Path.Combine(folder, "run");

        var (code, output, error) = await CliRunner.RunAsync(
            "train", "--images", images, "--masks", masks, "--preset", "tiny", "--steps", "2", "--validation-sections", "1",
            "--normalisation", "percentile", "--unlabelled", Path.Combine(images, "s0.png"), "--out", run);

        Assert.True(code == 0, error + output);
        Assert.Contains("3 channels in, percentile 1-99.8 normalisation", output, StringComparison.Ordinal);
        var checkpoint = Path.Combine(run, "checkpoints", "000000002", "manifest.json");
        using (var manifest = JsonDocument.Parse(File.ReadAllText(checkpoint)))
        {
            Assert.Equal(3, manifest.RootElement.GetProperty("model").GetProperty("inputChannels").GetInt32());
            Assert.Equal("percentile", manifest.RootElement.GetProperty("training").GetProperty("normalisation").GetProperty("kind").GetString());
        }

        // The overlay shows the colour image: a gray image's overlay has green == blue everywhere, this one does not.
        var overlay = ImageReader.Read(Path.Combine(run, "predictions", "unlabelled", "s0.overlay.png"));
        Assert.Equal(3, overlay.Channels);
        Assert.Contains(Enumerable.Range(0, Size * Size), i => overlay.Values[(Size * Size) + i] != overlay.Values[(2 * Size * Size) + i]);

        // predict reads the normalisation from the checkpoint: its probabilities are the ones training wrote.
        var predicted = Path.Combine(folder, "predicted");
        var predict = await CliRunner.RunAsync("predict", "--checkpoint", run, "--input", Path.Combine(images, "s0.png"), "--out", predicted);
        Assert.True(predict.ExitCode == 0, predict.Error + predict.Output);
        Assert.Equal(
            ImageReader.Read(Path.Combine(run, "predictions", "unlabelled", "s0.probability.png")).Values,
            ImageReader.Read(Path.Combine(predicted, "s0.probability.png")).Values);

        // A gray image is refused by the RGB checkpoint, naming the file, before anything is written.
        var gray = Path.Combine(folder, "gray.png");
        PngWriter.WriteGray8(gray, new byte[Size * Size], Size, Size);
        var refused = await CliRunner.RunAsync("predict", "--checkpoint", run, "--input", gray, "--out", Path.Combine(folder, "refused"));
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("gray.png has 1 channel", refused.Error, StringComparison.Ordinal);
        Assert.Contains("takes 3 channels", refused.Error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(folder, "refused")));
    }

    [Fact]
    public async Task Train_ChannelsOptionNotMatchingTheData_IsRefusedNamingBothAndWritesNothing()
    {
        var folder = CliRunner.TemporaryDirectory();
        var (images, masks) = WriteSet(folder, count: 3);
        var run = Path.Combine(folder, "run");

        var (code, output, error) = await CliRunner.RunAsync(
            "train", "--images", images, "--masks", masks, "--preset", "tiny", "--channels", "1", "--out", run);

        Assert.True(code == 2, error + output);
        Assert.Contains("--channels 1 does not match", error, StringComparison.Ordinal);
        Assert.Contains("its images have 3 channels", error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(run));
    }

    [Fact]
    public async Task Train_GrayAndRgbImagesInOneSet_NamesTheFileAndBothCounts()
    {
        var folder = CliRunner.TemporaryDirectory();
        var (images, masks) = WriteSet(folder, count: 3);
        PngWriter.WriteGray8(Path.Combine(images, "s1.png"), new byte[Size * Size].Select((_, i) => (byte)(i % 200)).ToArray(), Size, Size);
        var run = Path.Combine(folder, "run");

        var (code, output, error) = await CliRunner.RunAsync("train", "--images", images, "--masks", masks, "--preset", "tiny", "--out", run);

        Assert.True(code == 2, error + output);
        Assert.Contains("s1.png: image has 1 channel but", error, StringComparison.Ordinal);
        Assert.Contains("s0.png has 3 channels", error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(run));
    }

    /// <summary>Green discs on a purple textured background, as RGB PNGs, with binary masks of the discs.</summary>
    private static (string Images, string Masks) WriteSet(string folder, int count)
    {
        var images = Directory.CreateDirectory(Path.Combine(folder, "images")).FullName;
        var masks = Directory.CreateDirectory(Path.Combine(folder, "masks")).FullName;
        var random = new Random(7);
        for (var k = 0; k < count; k++)
        {
            var rgb = new byte[Size * Size * 3];
            var mask = new byte[Size * Size];
            var (cx, cy) = (40 + (k * 20), 60 + (k * 5));
            for (var y = 0; y < Size; y++)
            {
                for (var x = 0; x < Size; x++)
                {
                    var i = (y * Size) + x;
                    var inside = ((x - cx) * (x - cx)) + ((y - cy) * (y - cy)) < 25 * 25;
                    var noise = random.Next(30);
                    (rgb[3 * i], rgb[(3 * i) + 1], rgb[(3 * i) + 2]) = inside
                        ? ((byte)(20 + noise), (byte)(180 + noise), (byte)(40 + noise))
                        : ((byte)(120 + noise), (byte)(40 + noise), (byte)(140 + noise));
                    mask[i] = inside ? (byte)255 : (byte)0;
                }
            }

            PngWriter.WriteRgb8(Path.Combine(images, $"s{k}.png"), rgb, Size, Size);
            PngWriter.WriteGray8(Path.Combine(masks, $"s{k}.png"), mask, Size, Size);
        }

        return (images, masks);
    }
}
