using UNetCluster.Data.DataSets;
using UNetCluster.Data.Imaging;
using UNetCluster.Model.Checkpoints;
using static TorchSharp.torch;

namespace UNetCluster.Client.Tests;

/// <summary><c>--precision</c> and <c>--device</c> on <c>unet train</c> and <c>unet predict</c> (issue 17).</summary>
public sealed class PrecisionDeviceCommandTests
{
    private static readonly Lazy<Task<(string Run, string Output)>> Bf16Run = new(async () =>
    {
        var run = Path.Combine(CliRunner.TemporaryDirectory(), "run");
        var result = await CliRunner.RunAsync("train", "--preset", "tiny", "--steps", "2", "--precision", "bf16", "--device", "cpu", "--out", run);
        Assert.True(result.ExitCode == 0, result.Error + result.Output);
        return (run, result.Output);
    });

    [Fact]
    public async Task Train_Bf16_TrainsInBf16AndCheckpointsFp32Weights()
    {
        var (run, output) = await Bf16Run.Value;

        Assert.Contains("bf16 on cpu.", output, StringComparison.Ordinal);
        Assert.Contains("\"precision\": \"bf16\"", File.ReadAllText(Path.Combine(run, "run.json")), StringComparison.OrdinalIgnoreCase);
        var (weights, _) = SafeTensors.Read(Path.Combine(run, "checkpoints", "000000002", "model.safetensors"));
        Assert.NotEmpty(weights);
        Assert.All(weights, w => Assert.Equal(ScalarType.Float32, w.Value.dtype));   // the master weights, loadable by PyTorch as they were
    }

    [Fact]
    public async Task Predict_Bf16_GivesTheFp32MaskToRounding()
    {
        var (run, _) = await Bf16Run.Value;
        var input = Path.Combine(BundledData.UnlabelledDirectory, "test-00.png");
        var folder = CliRunner.TemporaryDirectory();
        var fp32 = await CliRunner.RunAsync("predict", "--checkpoint", run, "--input", input, "--out", Path.Combine(folder, "fp32"));
        var bf16 = await CliRunner.RunAsync("predict", "--checkpoint", run, "--input", input, "--out", Path.Combine(folder, "bf16"), "--precision", "bf16", "--device", "cpu");

        Assert.True(fp32.ExitCode == 0 && bf16.ExitCode == 0, fp32.Error + bf16.Error);
        Assert.Contains("bf16 on cpu.", bf16.Output, StringComparison.Ordinal);
        var expected = ImageReader.Read(Path.Combine(folder, "fp32", "test-00.mask.png")).Values;
        var actual = ImageReader.Read(Path.Combine(folder, "bf16", "test-00.mask.png")).Values;
        var differing = expected.Zip(actual).Count(p => p.First != p.Second) / (double)expected.Length;
        Assert.True(differing < 0.01, $"{differing:P2} of the pixels change class in bf16");   // only pixels at the threshold may flip
    }

    [Theory]
    [InlineData("train", "cuda")]
    [InlineData("train", "cuda:1")]
    [InlineData("predict", "cuda")]
    public async Task Command_DeviceCudaWhereLibtorchHasNone_IsRefusedNamingThePackageAndWritesNothing(string verb, string device)
    {
        Assert.SkipWhen(cuda.is_available(), "this libtorch reaches a CUDA device");
        var target = Path.Combine(CliRunner.TemporaryDirectory(), "out");
        string[] args = verb == "train"
            ? ["train", "--preset", "tiny", "--device", device, "--out", target]
            : ["predict", "--checkpoint", target, "--input", BundledData.UnlabelledDirectory, "--out", target, "--device", device];

        var (code, _, error) = await CliRunner.RunAsync(args);

        Assert.Equal(2, code);
        Assert.StartsWith($"error: --device {device}: this build of libtorch reaches no CUDA device", error, StringComparison.Ordinal);
        Assert.Contains("TorchSharp-cuda-linux", error, StringComparison.Ordinal);
        Assert.Contains("NVIDIA driver", error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(target), "nothing is written for a refused command");
    }

    [Theory]
    [InlineData("--precision", "fp16", "--precision 'fp16' is unknown: expected fp32 or bf16")]
    [InlineData("--device", "gpu", "--device 'gpu' is unknown: expected auto, cpu, cuda or cuda:N")]
    public async Task Train_BadPrecisionOrDevice_NamesItAndWritesNothing(string option, string value, string expected)
    {
        var run = Path.Combine(CliRunner.TemporaryDirectory(), "run");
        var (code, _, error) = await CliRunner.RunAsync("train", "--preset", "tiny", option, value, "--out", run);
        Assert.Equal(2, code);
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(run), "nothing is written for a refused run");
    }
}
