using System.Text.Json;
using System.Text.RegularExpressions;
using UNetCluster.Contracts.Jobs;
using UNetCluster.EndToEnd.Tests;
using UNetCluster.Tests.Common;

namespace UNetCluster.Client.Tests;

/// <summary>Each exit code the README documents ("Exit codes"), for one case a user meets, against a real silo.</summary>
[Collection(ApiSiloTests.Name)]
public sealed partial class ExitCodeTests(ApiSiloFixture silo)
{
    [Fact]
    public void Readme_ExitCodeTable_ListsExactlyTheCodesTheCliReturns()
    {
        var readme = File.ReadAllText(Path.Combine(UNetCluster.Tests.Common.RepositoryPaths.Root, "README.md"));
        var section = readme[readme.IndexOf("### Exit codes", StringComparison.Ordinal)..];
        section = section[..section.IndexOf("\n#", 1, StringComparison.Ordinal)];

        var documented = TableCode().Matches(section).Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();

        Assert.Equal([Cli.Ok, Cli.Failed, Cli.BadInput, Cli.Unreachable, Cli.Cancelled], documented);
    }

    [Fact]
    public async Task ExitCode0_WatchedJobCompletes()
    {
        var (id, code, output, error) = await silo.CompletedJobAsync();   // submit --watch of a tiny job

        Assert.True(code == 0, $"{output}\n{error}");
        Assert.Contains($"job {id}: completed", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExitCode1_WatchedJobFails()
    {
        // Accepted (every option is in range), then failed by the coordinator before its first step: a step this large
        // does not fit a node's memory.
        var (code, output, error) = await ApiSiloFixture.RunWithTokenAsync(
            ApiSiloFixture.Token, "submit", "--api", silo.Api, "--preset", "tiny", "--batch", "256", "--base-channels", "512", "--id", ApiCommandTests.NewId("fails"), "--watch");

        Assert.True(code == 1, $"exit {code}\n{output}\n{error}");
        Assert.Contains(": failed", output, StringComparison.Ordinal);
        Assert.Contains("A training step needs about", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExitCode2_ValueOutsideAnOptionsSet()
    {
        var (code, output, error) = await CliRunner.RunAsync("submit", "--api", silo.Api, "--optimizer", "adamw");

        Assert.Equal((2, string.Empty), (code, output));
        Assert.StartsWith("error: --optimizer 'adamw' is unknown: expected sgd or adam.", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExitCode3_ApiThatDoesNotAnswer()
    {
        var closed = $"http://127.0.0.1:{LoopbackPorts.Next()}";

        var (code, output, error) = await CliRunner.RunAsync("list", "--api", closed);

        Assert.Equal((3, string.Empty), (code, output));
        Assert.StartsWith($"error: Cannot reach the API at {closed}:", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExitCode130_WatchedJobIsCancelled()
    {
        var id = ApiCommandTests.NewId("cancelled");
        var submit = await ApiSiloFixture.RunWithTokenAsync(ApiSiloFixture.Token, "submit", "--api", silo.Api, "--preset", "tiny", "--steps", "500", "--checkpoint-every", "1000", "--id", id);
        Assert.True(submit.ExitCode == 0, submit.Error);

        var watch = CliRunner.RunAsync("watch", id, "--api", silo.Api);
        await WaitUntilRunningAsync(id);
        var cancel = await ApiSiloFixture.RunWithTokenAsync(ApiSiloFixture.Token, "cancel", id, "--api", silo.Api);
        var (code, output, error) = await watch;

        Assert.Equal(0, cancel.ExitCode);
        Assert.True(code == 130, $"exit {code}\n{output}\n{error}");
        Assert.Contains($"job {id}: cancelled", output, StringComparison.Ordinal);
    }

    private async Task WaitUntilRunningAsync(string id)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while (true)
        {
            var (_, output, _) = await CliRunner.RunAsync("status", id, "--api", silo.Api, "--json");
            var status = JsonSerializer.Deserialize<JobStatus>(output, ApiCommandTests.Json)!;
            if (status.State == JobState.Running && status.Step > 0)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"job {id} did not start: {status.State}\n{ApiSiloFixture.Tail(silo.Output)}");
            await Task.Delay(250, TestContext.Current.CancellationToken);
        }
    }

    [GeneratedRegex(@"^\| `(\d+)` \|", RegexOptions.Multiline)]
    private static partial Regex TableCode();
}
