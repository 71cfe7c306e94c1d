using System.Diagnostics;
using UNetCluster.Tests.Common;

namespace UNetCluster.Client.Tests;

/// <summary>
/// <c>dotnet pack src/Client</c> gives the <c>unet</c> .NET tool: packed from this build, installed with
/// <c>--tool-path</c> from the package folder alone (no other feed, a fresh package cache), it runs, and it loads
/// libtorch (TorchSharp's native libraries, patched for this machine's libstdc++ where needed).
/// </summary>
public sealed class ToolPackageTests
{
    [Fact]
    public async Task PackedTool_InstalledWithToolPath_RunsAndLoadsLibtorch()
    {
        var work = CliRunner.TemporaryDirectory();
        try
        {
            var packages = Path.Combine(work, "nupkg");
            var tools = Path.Combine(work, "tools");
            var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Debug" : "Release";
            var config = Path.Combine(work, "nuget.config");
            await File.WriteAllTextAsync(config, $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources><clear /><add key="local" value="{packages}" /></packageSources>
                </configuration>
                """, TestContext.Current.CancellationToken);

            var pack = await RunAsync(work, "dotnet", "pack", Path.Combine(RepositoryPaths.Root, "src", "Client"), "-c", configuration, "--no-build", "-o", packages, "-nologo", "-v", "quiet");
            Assert.True(pack.ExitCode == 0, pack.Output);
            var package = Assert.Single(Directory.GetFiles(packages, "*.nupkg"));
            Assert.StartsWith("UNetCluster.Client.", Path.GetFileName(package), StringComparison.Ordinal);

            var install = await RunAsync(work, "dotnet", "tool", "install", "--tool-path", tools, "--configfile", config, "UNetCluster.Client");
            Assert.True(install.ExitCode == 0, install.Output);
            var unet = Path.Combine(tools, "unet");

            var help = await RunAsync(work, unet, "--help");
            var device = await RunAsync(work, unet, "train", "--device", "cuda", "--out", Path.Combine(work, "run"));

            Assert.True(help.ExitCode == 0, help.Output);
            Assert.Contains("unet [command] [options]", help.Output, StringComparison.Ordinal);
            Assert.Contains(help.Output.Split('\n'), l => l.TrimStart().StartsWith("submit ", StringComparison.Ordinal));
            // The answer comes from asking libtorch for a CUDA device: the native libraries loaded.
            Assert.True(device.ExitCode == 2, device.Output);
            Assert.Contains("--device cuda: this build of libtorch reaches no CUDA device", device.Output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(work, recursive: true);   // about 700 MB: the package and the installed tool
        }
    }

    /// <summary>Runs a process to its end (at most 10 minutes) with its own package cache; returns its exit code and output.</summary>
    private static async Task<(int ExitCode, string Output)> RunAsync(string work, string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = work, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        // A fresh cache: the user's would hold an older package of the same version and install that instead.
        start.Environment["NUGET_PACKAGES"] = Path.Combine(work, "packages-cache");
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var error = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, $"{await output}\n{await error}");
    }
}
