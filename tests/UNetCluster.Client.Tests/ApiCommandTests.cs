using System.Text.Json;
using System.Text.Json.Serialization;
using UNetCluster.Contracts.Jobs;

namespace UNetCluster.Client.Tests;

/// <summary>
/// The cluster verbs over a real silo's REST API (<c>--api URL</c>, the token in UNET_API_TOKEN), as from a machine
/// outside the cluster, and their <c>--json</c> documents, which are the same over the gateway.
/// </summary>
[Collection(ApiSiloTests.Name)]
public sealed class ApiCommandTests(ApiSiloFixture silo)
{
    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) } };

    [Fact]
    public async Task SubmitStatusListCancel_OverTheApi_RunTheJobAndPrintItsJson()
    {
        var id = NewId("api");

        var submit = await ApiSiloFixture.RunWithTokenAsync(ApiSiloFixture.Token, "submit", "--api", silo.Api, "--preset", "tiny", "--steps", "500", "--checkpoint-every", "1000", "--id", id);
        var status = await CliRunner.RunAsync("status", id, "--api", silo.Api, "--json");
        var list = await CliRunner.RunAsync("list", "--api", silo.Api, "--json");
        var table = await CliRunner.RunAsync("list", "--api", silo.Api);
        var cancel = await ApiSiloFixture.RunWithTokenAsync(ApiSiloFixture.Token, "cancel", id, "--api", silo.Api);
        var cancelled = await WaitForStateAsync(id, JobState.Cancelled);
        var again = await ApiSiloFixture.RunWithTokenAsync(ApiSiloFixture.Token, "cancel", id, "--api", silo.Api);

        Assert.True(submit.ExitCode == 0, submit.Error);
        Assert.Equal(id, submit.Output.Trim());   // stdout holds the job id alone, for scripts
        Assert.Equal(0, status.ExitCode);
        var shown = JsonSerializer.Deserialize<JobStatus>(status.Output, Json)!;
        Assert.Equal((id, "tiny", 500L), (shown.Id, shown.Spec.Preset, shown.Steps));
        using (var document = JsonDocument.Parse(status.Output))
        {
            Assert.Contains(document.RootElement.GetProperty("state").GetString(), new[] { "pending", "running" });   // camelCase, as the API writes it
            Assert.Equal("train", document.RootElement.GetProperty("spec").GetProperty("kind").GetString());
        }

        Assert.Equal(0, list.ExitCode);
        Assert.Contains(JsonSerializer.Deserialize<List<JobStatus>>(list.Output, Json)!, j => j.Id == id);
        Assert.Contains(table.Output.Split('\n'), l => l.StartsWith(id + " ", StringComparison.Ordinal) && l.Contains("train", StringComparison.Ordinal));
        Assert.Equal((0, $"Job {id} stops at its next step boundary and writes a checkpoint."), (cancel.ExitCode, cancel.Output.Trim()));
        Assert.Equal(JobState.Cancelled, cancelled.State);
        Assert.Equal((0, $"Job {id} has already ended (cancelled)."), (again.ExitCode, again.Output.Trim()));
    }

    [Fact]
    public async Task StatusJson_OverTheGatewayAndOverTheApi_IsTheSameDocument()
    {
        var (id, code, output, error) = await silo.CompletedJobAsync();
        Assert.True(code == 0, $"{output}\n{error}\n{ApiSiloFixture.Tail(silo.Output)}");

        var overApi = await CliRunner.RunAsync("status", id, "--api", silo.Api, "--json");
        var overGateway = await CliRunner.RunAsync("status", id, "--gateway", $"127.0.0.1:{silo.GatewayPort}", "--cluster-id", silo.ClusterId, "--json");
        var silosOverApi = await CliRunner.RunAsync("silos", "--api", silo.Api, "--json");
        var silosOverGateway = await CliRunner.RunAsync("silos", "--gateway", $"127.0.0.1:{silo.GatewayPort}", "--cluster-id", silo.ClusterId, "--json");

        Assert.True(overGateway.ExitCode == 0, overGateway.Error);
        Assert.Equal(overApi.Output, overGateway.Output);   // a finished job's status: the same document either way
        Assert.Equal(JobState.Completed, JsonSerializer.Deserialize<JobStatus>(overApi.Output, Json)!.State);
        Assert.Equal(silosOverApi.Output, silosOverGateway.Output);
        using var silos = JsonDocument.Parse(silosOverApi.Output);
        var member = Assert.Single(silos.RootElement.EnumerateArray());
        Assert.Equal("active", member.GetProperty("status").GetString());
        Assert.False(string.IsNullOrEmpty(member.GetProperty("address").GetString()));
    }

    [Fact]
    public async Task Submit_WrongOrMissingToken_IsRefusedNamingTheVariableNeverTheTokenAndCreatesNothing()
    {
        var id = NewId("token");
        const string wrong = "not-the-silo-token-93c1";

        var refused = await ApiSiloFixture.RunWithTokenAsync(wrong, "submit", "--api", silo.Api, "--preset", "tiny", "--steps", "2", "--id", id);
        var missing = await ApiSiloFixture.RunWithTokenAsync(null, "submit", "--api", silo.Api, "--preset", "tiny", "--steps", "2", "--id", id);
        var cancel = await ApiSiloFixture.RunWithTokenAsync(wrong, "cancel", "any-job", "--api", silo.Api);
        var list = await CliRunner.RunAsync("list", "--api", silo.Api, "--json");

        Assert.Equal(2, refused.ExitCode);
        Assert.Contains($"the API at {silo.Api} refused the bearer token in UNET_API_TOKEN (403: the bearer token is wrong.)", refused.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(wrong, refused.Error + refused.Output, StringComparison.Ordinal);
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("set UNET_API_TOKEN to the silo's bearer token", missing.Error, StringComparison.Ordinal);
        Assert.Equal(2, cancel.ExitCode);
        Assert.DoesNotContain(JsonSerializer.Deserialize<List<JobStatus>>(list.Output, Json)!, j => j.Id == id);
    }

    [Fact]
    public async Task Submit_SpecTheClusterRefusesOverTheApi_PrintsEveryErrorAndExitsTwo()
    {
        var refused = await ApiSiloFixture.RunWithTokenAsync(ApiSiloFixture.Token, "submit", "--api", silo.Api, "--data", "nowhere", "--workers", "0");
        var prediction = await ApiSiloFixture.RunWithTokenAsync(
            ApiSiloFixture.Token, "predict", "--cluster", "--api", silo.Api, "--from-job", "no-such-job", "--dataset", "nowhere", "--tile", "124", "--no-overlays");
        var unknown = await CliRunner.RunAsync("status", "no-such-job", "--api", silo.Api);
        var badUrl = await CliRunner.RunAsync("list", "--api", "127.0.0.1:8080");
        var both = await CliRunner.RunAsync("list", "--api", silo.Api, "--gateway", "127.0.0.1:30000");

        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("error: the job was refused (nothing was created):", refused.Error, StringComparison.Ordinal);
        Assert.Contains("data set 'nowhere' is unknown", refused.Error, StringComparison.Ordinal);
        Assert.Contains("workers 0 is invalid", refused.Error, StringComparison.Ordinal);
        // POST /api/predictions read every field the CLI sent (an unread one would be refused as unknown) and the cluster refused the spec.
        Assert.Equal(2, prediction.ExitCode);
        Assert.Contains("error: the prediction job was refused (nothing was created):", prediction.Error, StringComparison.Ordinal);
        Assert.Contains("no-such-job", prediction.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("unknown field", prediction.Error, StringComparison.Ordinal);
        Assert.Equal((2, "error: job 'no-such-job' is unknown: 'unet list' shows the cluster's jobs."), (unknown.ExitCode, unknown.Error.Trim()));
        Assert.Equal(2, badUrl.ExitCode);
        Assert.Contains("--api '127.0.0.1:8080' is invalid: expected the http:// or https:// URL", badUrl.Error, StringComparison.Ordinal);
        Assert.Equal(2, both.ExitCode);
        Assert.Contains("--api and --gateway/--redis are two ways to reach a cluster", both.Error, StringComparison.Ordinal);
    }

    internal static string NewId(string what) => $"cli-{what}-{Guid.NewGuid().ToString("N")[..6]}";

    /// <summary>Polls <c>unet status --json</c> until the job is in <paramref name="state"/> (at most two minutes).</summary>
    private async Task<JobStatus> WaitForStateAsync(string id, JobState state)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while (true)
        {
            var (code, output, error) = await CliRunner.RunAsync("status", id, "--api", silo.Api, "--json");
            Assert.True(code == 0, error);
            var status = JsonSerializer.Deserialize<JobStatus>(output, Json)!;
            if (status.State == state)
            {
                return status;
            }

            Assert.True(DateTime.UtcNow < deadline, $"job {id} is {status.State}, not {state}\n{ApiSiloFixture.Tail(silo.Output)}");
            await Task.Delay(250, TestContext.Current.CancellationToken);
        }
    }
}
