using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using UNetCluster.Contracts.Jobs;
using UNetCluster.EndToEnd.Tests;
using UNetCluster.Tests.Common;

namespace UNetCluster.Ops.Tests;

/// <summary>
/// One real silo process (localhost clustering, free ports) serving the REST API, the dashboard and /metrics on a free
/// loopback port, with a bearer token: what an operator runs, on one machine.
/// </summary>
public sealed class SiloFixture : IAsyncLifetime
{
    public const string Token = "ops-test-token-7f3a9c2e51";

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) } };

    private ChildProcess? _silo;

    /// <summary>Where the silo exports traces and metrics over OTLP (it is started with OTEL_EXPORTER_OTLP_ENDPOINT).</summary>
    public OtlpReceiver Otlp { get; } = new(LoopbackPorts.Next());

    public int HttpPort { get; } = LoopbackPorts.Next();

    public Uri BaseAddress => new($"http://127.0.0.1:{HttpPort}/");

    public string StorageRoot { get; } = Path.Combine(Path.GetTempPath(), "unetcluster-tests", "ops-" + Guid.NewGuid().ToString("N"));

    public ChildProcess Silo => _silo ?? throw new InvalidOperationException("The silo is not started.");

    /// <summary>A client without the token.</summary>
    public HttpClient Http { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = AppContext.BaseDirectory };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "UNetCluster.Silo.dll"));
        var settings = new Dictionary<string, string>
        {
            ["UNetCluster__Cluster__ClusterId"] = "ops-" + Guid.NewGuid().ToString("N")[..8],
            ["UNetCluster__Cluster__SiloPort"] = LoopbackPorts.Next().ToString(CultureInfo.InvariantCulture),
            ["UNetCluster__Cluster__GatewayPort"] = LoopbackPorts.Next().ToString(CultureInfo.InvariantCulture),
            ["UNetCluster__Http__Urls"] = BaseAddress.ToString().TrimEnd('/'),
            ["UNetCluster__Http__Token"] = Token,
            ["UNetCluster__Storage__Root"] = StorageRoot,
            ["UNetCluster__Worker__Threads"] = "1",
            ["Logging__LogLevel__Default"] = "Information",
            ["Logging__LogLevel__Microsoft.AspNetCore"] = "Information",   // as an operator who wants request logs sets it
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = Otlp.Endpoint,
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "500",
            ["OTEL_BLRP_SCHEDULE_DELAY"] = "500",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "2000",
        };
        foreach (var (key, value) in settings)
        {
            start.Environment[key] = value;
        }

        _silo = new ChildProcess("ops silo", start);
        Http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        await ChildProcess.WaitForPortAsync(HttpPort, _silo, TimeSpan.FromSeconds(90));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (true)
        {
            var cluster = await Http.GetFromJsonAsync<JsonElement>("api/cluster");
            if (cluster.GetProperty("members").EnumerateArray().Any(m => m.GetProperty("status").GetString() == "Active"))
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"The silo did not become active.\n{Silo.Output}");
            }

            await Task.Delay(300);
        }
    }

    public ValueTask DisposeAsync()
    {
        Http?.Dispose();
        _silo?.Dispose();
        Otlp.Dispose();
        return ValueTask.CompletedTask;
    }

    public static HttpRequestMessage Request(HttpMethod method, string path, string? token, string? body = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        if (body is not null)
        {
            request.Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
        }

        return request;
    }

    /// <summary>Submits a tiny job with the token and returns its id once it is accepted.</summary>
    public async Task<string> SubmitAsync(string id, int steps, int checkpointEvery = 1000)
    {
        var body = JsonSerializer.Serialize(new { id, preset = "tiny", steps, checkpointEvery });
        using var response = await Http.SendAsync(Request(HttpMethod.Post, "api/jobs", Token, body));
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.Created, $"{response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return id;
    }

    public async Task<JobStatus> StatusAsync(string id) =>
        (await Http.GetFromJsonAsync<JobStatus>($"api/jobs/{id}", Json))!;

    /// <summary>Polls a job's status until <paramref name="done"/> holds; fails with the silo's output after the timeout.</summary>
    public async Task<JobStatus> WaitForAsync(string id, Func<JobStatus, bool> done, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var status = await StatusAsync(id);
            if (done(status))
            {
                return status;
            }

            Assert.True(DateTime.UtcNow < deadline, $"job {id} did not get there in {timeout}: {status.State} at step {status.Step}\n{Tail(Silo.Output)}");
            await Task.Delay(250);
        }
    }

    /// <summary>Cancels a job with the token (clean-up: frees the silo's one worker thread for the next test).</summary>
    public async Task CancelAsync(string id)
    {
        using var response = await Http.SendAsync(Request(HttpMethod.Post, $"api/jobs/{id}/cancel", Token));
        response.EnsureSuccessStatusCode();
    }

    public static string Tail(string text) => text.Length > 6000 ? text[^6000..] : text;

    /// <summary>The repository's root (where UNetCluster.sln is), for deploy/ and the test artefacts.</summary>
    public static string RepositoryRoot => UNetCluster.Tests.Common.RepositoryPaths.Root;
}

[CollectionDefinition(Name)]
public sealed class SiloTests : ICollectionFixture<SiloFixture>
{
    public const string Name = "ops silo";
}
