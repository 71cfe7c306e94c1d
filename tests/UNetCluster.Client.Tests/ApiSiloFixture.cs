using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using UNetCluster.EndToEnd.Tests;
using UNetCluster.Tests.Common;

namespace UNetCluster.Client.Tests;

/// <summary>
/// One real silo process (localhost clustering, free loopback ports) serving its REST API with a bearer token and its
/// Orleans gateway: the cluster the CLI's <c>--api</c> and <c>--gateway</c> verbs are tested against, started once for
/// the tests of the <see cref="ApiSiloTests"/> collection.
/// </summary>
public sealed class ApiSiloFixture : IAsyncLifetime
{
    public const string Token = "cli-api-test-token-4be1d7";

    private ChildProcess? _silo;

    public int HttpPort { get; } = LoopbackPorts.Next();

    public int GatewayPort { get; } = LoopbackPorts.Next();

    public string ClusterId { get; } = "cli-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>What a user passes to <c>--api</c>.</summary>
    public string Api => $"http://127.0.0.1:{HttpPort}";

    public string Output => _silo?.Output ?? string.Empty;

    public async ValueTask InitializeAsync()
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = AppContext.BaseDirectory };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "UNetCluster.Silo.dll"));
        var settings = new Dictionary<string, string>
        {
            ["UNetCluster__Cluster__ClusterId"] = ClusterId,
            ["UNetCluster__Cluster__ServiceId"] = ClusterId,
            ["UNetCluster__Cluster__SiloPort"] = LoopbackPorts.Next().ToString(CultureInfo.InvariantCulture),
            ["UNetCluster__Cluster__GatewayPort"] = GatewayPort.ToString(CultureInfo.InvariantCulture),
            ["UNetCluster__Http__Urls"] = Api,
            ["UNetCluster__Http__Token"] = Token,
            ["UNetCluster__Http__OrleansDashboard"] = "false",
            ["UNetCluster__Storage__Root"] = Path.Combine(Path.GetTempPath(), "unetcluster-cli-tests", "silo-" + Guid.NewGuid().ToString("N")),
            ["UNetCluster__Worker__Threads"] = "1",
        };
        foreach (var (key, value) in settings)
        {
            start.Environment[key] = value;
        }

        _silo = new ChildProcess("api silo", start);
        await ChildProcess.WaitForPortAsync(HttpPort, _silo, TimeSpan.FromSeconds(90));
        using var http = new HttpClient { BaseAddress = new Uri(Api), Timeout = TimeSpan.FromSeconds(30) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (true)
        {
            var cluster = await http.GetFromJsonAsync<JsonElement>("api/cluster");
            if (cluster.GetProperty("members").EnumerateArray().Any(m => m.GetProperty("status").GetString() == "Active"))
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"The silo did not become active.\n{_silo.Output}");
            }

            await Task.Delay(300);
        }
    }

    public ValueTask DisposeAsync()
    {
        _silo?.Dispose();
        return ValueTask.CompletedTask;
    }

    private Task<(string Id, int ExitCode, string Output, string Error)>? _completed;

    /// <summary>
    /// A tiny job submitted over the API with <c>--watch</c> and followed to its end, once per run (a job costs the
    /// silo's one worker thread seconds): its id and what <c>unet submit --watch</c> returned and printed.
    /// </summary>
    public Task<(string Id, int ExitCode, string Output, string Error)> CompletedJobAsync() => _completed ??= SubmitAndWatchAsync();

    private async Task<(string Id, int ExitCode, string Output, string Error)> SubmitAndWatchAsync()
    {
        var id = $"cli-done-{Guid.NewGuid().ToString("N")[..6]}";
        var (code, output, error) = await RunWithTokenAsync(Token, "submit", "--api", Api, "--preset", "tiny", "--steps", "2", "--id", id, "--watch");
        return (id, code, output, error);
    }

    public static string Tail(string text) => text.Length > 4000 ? text[^4000..] : text;

    /// <summary>Runs the CLI in-process with UNET_API_TOKEN set to <paramref name="token"/> (unset when null), restored after.</summary>
    public static async Task<(int ExitCode, string Output, string Error)> RunWithTokenAsync(string? token, params string[] args)
    {
        var before = Environment.GetEnvironmentVariable("UNET_API_TOKEN");
        Environment.SetEnvironmentVariable("UNET_API_TOKEN", token);
        try
        {
            return await CliRunner.RunAsync(args);
        }
        finally
        {
            Environment.SetEnvironmentVariable("UNET_API_TOKEN", before);
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ApiSiloTests : ICollectionFixture<ApiSiloFixture>
{
    public const string Name = "api silo";
}
