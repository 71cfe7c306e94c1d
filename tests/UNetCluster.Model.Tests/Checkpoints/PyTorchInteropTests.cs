using System.Diagnostics;
using System.Globalization;
using UNetCluster.Model.Checkpoints;
using UNetCluster.Model.Modules;
using static TorchSharp.torch;

namespace UNetCluster.Model.Tests.Checkpoints;

/// <summary>PyTorch users load our weights: a plain PyTorch U-Net (Python/unet_reference.py) gives our output.</summary>
public sealed class PyTorchInteropTests
{
    private const string Python = "/usr/bin/python3";

    [Fact]
    public void SafeTensors_LoadedByPyTorchUNetWithStrictKeys_GivesTheSameOutput()
    {
        using var scope = NewDisposeScope();
        manual_seed(11);
        var options = new UNetOptions(Depth: 2, BaseChannels: 16);
        using var model = new UNet(options);
        model.eval();
        var input = randn(1, 1, 124, 124);
        Tensor expected;
        using (no_grad())
        {
            expected = model.call(input); // (1, 2, 84, 84)
        }

        var folder = TestSupport.TemporaryDirectory();
        var modelPath = Path.Combine(folder, CheckpointManifest.ModelFile);
        var inputPath = Path.Combine(folder, "input.safetensors");
        var outputPath = Path.Combine(folder, "output.safetensors");
        File.WriteAllBytes(modelPath, SafeTensors.ToBytes(model.state_dict().Select(kv => (kv.Key, kv.Value)).ToList()));
        File.WriteAllBytes(inputPath, SafeTensors.ToBytes([("input", input)]));

        var (exitCode, output) = RunPython(
            Path.Combine(AppContext.BaseDirectory, "Python", "unet_reference.py"), modelPath, inputPath, outputPath,
            "--depth", options.Depth.ToString(CultureInfo.InvariantCulture), "--base-channels", options.BaseChannels.ToString(CultureInfo.InvariantCulture));
        Assert.True(exitCode == 0, $"{Python} unet_reference.py failed (exit {exitCode}); is python3-torch installed (scripts/setup.sh)?\n{output}");

        var actual = SafeTensors.Read(outputPath).Tensors["output"];
        Assert.Equal(expected.shape, actual.shape);
        var difference = (actual - expected).abs().max().item<float>();
        var scale = Math.Max(1f, expected.abs().max().item<float>());
        Assert.True(difference <= 1e-4f * scale, $"PyTorch's output differs from ours by up to {difference} (largest logit {scale}).");
    }

    private static (int ExitCode, string Output) RunPython(params string[] arguments)
    {
        Assert.True(File.Exists(Python), $"{Python} is missing: run scripts/setup.sh (python3 and python3-torch).");
        var start = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            return (-1, "timed out after 3 minutes");
        }

        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
