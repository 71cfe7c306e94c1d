using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using UNetCluster.EndToEnd.Tests;
using UNetCluster.Tests.Common;

namespace UNetCluster.Deploy.Tests;

/// <summary>
/// The dev overlay run as Kubernetes would run it, without Kubernetes (no cluster and no Docker engine here): every
/// replica of the rendered silo Deployment is started as a local process from its image's entrypoint
/// (deploy/docker, the build output standing in for /app) with the environment the manifests give it; Redis and Azurite
/// on loopback stand in for the in-cluster Services. The probes are asked as the kubelet would, and the rendered
/// submit Job runs its command, args and environment against the silos until the training job completes.
/// What differs from a pod, and only this: each pod's IP is 127.0.0.1, so its container ports are published on free
/// loopback ports (as <c>docker run -p</c> would); Service names resolve to the loopback Redis and Azurite; and
/// <c>UNetCluster__Cluster__Kubernetes</c> is false, because there is no Kubernetes API for Orleans' hosting to watch.
/// </summary>
[Trait("Category", "Deploy")]
public sealed class LocalClusterTests : IAsyncLifetime
{
    /// <summary>The Secret the README tells a dev cluster's operator to create (Azurite's well-known account, a token, a data-plane secret).</summary>
    private static readonly string DevBlobConnectionString =
        $"DefaultEndpointsProtocol=http;AccountName={AzuriteFixture.AccountName};AccountKey={AzuriteFixture.AccountKey};BlobEndpoint=http://azurite:10000/{AzuriteFixture.AccountName};";

    private readonly AzuriteFixture _azurite = new();
    private readonly List<ChildProcess> _processes = [];
    private readonly string _token = "local-" + Guid.NewGuid().ToString("N");
    private readonly string _dataPlaneSecret = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
    private int _redisPort;

    public async ValueTask InitializeAsync()
    {
        await _azurite.InitializeAsync();
        _redisPort = LoopbackPorts.Next();
        var server = File.Exists("/usr/bin/redis-server") ? "/usr/bin/redis-server" : "redis-server";
        var redis = Start("redis", new ProcessStartInfo(server)
        {
            ArgumentList = { "--port", _redisPort.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", string.Empty, "--appendonly", "no" },
        });
        await ChildProcess.WaitForPortAsync(_redisPort, redis, TimeSpan.FromSeconds(20));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in Enumerable.Reverse(_processes))
        {
            process.Dispose();
        }

        await _azurite.DisposeAsync();
    }

    [Fact]
    public async Task DevOverlay_SilosStartedFromTheManifests_PassTheirProbesAndRunTheSubmitJob()
    {
        var objects = Manifests.Objects("overlays/dev");
        var deployment = Manifests.Find(objects, "Deployment", "unetcluster-silo");
        var replicas = deployment.GetProperty("spec").GetProperty("replicas").GetInt32();
        var container = Manifests.Container(deployment, "silo");
        var secrets = new Dictionary<(string, string), string>
        {
            [("unetcluster-secrets", "blob-connection-string")] = DevBlobConnectionString,
            [("unetcluster-secrets", "api-token")] = _token,
            [("unetcluster-secrets", "data-plane-secret")] = _dataPlaneSecret,
        };

        var pods = new List<(ChildProcess Process, int HttpPort)>();
        for (var i = 0; i < replicas; i++)
        {
            var name = $"unetcluster-silo-local-{i}";
            var fields = new Dictionary<string, string> { ["metadata.name"] = name, ["metadata.namespace"] = "unetcluster", ["status.podIP"] = "127.0.0.1" };
            var environment = PodEnvironment.Resolve(container, objects, fields, secrets);
            var published = Publish(container, environment);
            environment["UNetCluster__Cluster__Kubernetes"] = "false";
            pods.Add((StartContainer(name, container, environment), published["http"]));
        }

        // The kubelet's probes: startup until it passes, then readiness and liveness, each on the path and port rendered.
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        foreach (var (process, port) in pods)
        {
            foreach (var probe in new[] { "startupProbe", "readinessProbe", "livenessProbe" })
            {
                var path = container.GetProperty(probe).GetProperty("httpGet").GetProperty("path").GetString()!;
                await WaitForOkAsync(http, new Uri($"http://127.0.0.1:{port}{path}"), process, TimeSpan.FromSeconds(150));
            }
        }

        // The submit Job: its image's entrypoint, its args, its environment.
        var submitObjects = Manifests.Objects("submit");
        var job = Manifests.Find(submitObjects, "Job", "unet-submit");
        var unet = Manifests.Container(job, "unet");
        var jobEnvironment = PodEnvironment.Resolve(unet, submitObjects, new Dictionary<string, string>(), secrets);
        var submit = StartContainer("unet-submit", unet, jobEnvironment);
        var exited = submit.Process.WaitForExit(TimeSpan.FromSeconds(200));
        Assert.True(exited, $"the submit Job did not finish in 200 s:\n{submit.Output}\n{Tail(pods)}");
        submit.Process.WaitForExit();   // and its output has been read to the end
        Assert.True(submit.Process.ExitCode == 0, $"the submit Job failed ({submit.Process.ExitCode}):\n{submit.Output}\n{Tail(pods)}");

        // The job it submitted completed every step it asked for, as the REST API of a silo reports it.
        var jobId = submit.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[0];
        var args = unet.GetProperty("args").EnumerateArray().Select(a => a.GetString()!).ToList();
        var steps = long.Parse(args[args.IndexOf("--steps") + 1], CultureInfo.InvariantCulture);
        var status = await http.GetFromJsonAsync<JsonElement>(new Uri($"http://127.0.0.1:{pods[0].HttpPort}/api/jobs/{jobId}"), TestContext.Current.CancellationToken);
        Assert.Equal("completed", status.GetProperty("state").GetString(), ignoreCase: true);
        Assert.Equal(steps, status.GetProperty("step").GetInt64());
        Assert.Equal(replicas, status.GetProperty("workers").GetArrayLength());   // the pods formed one cluster through Redis

        // Its record and checkpoints are in the blob store of the Secret (Azurite standing in for the azurite Service).
        var container0 = PodEnvironment.Resolve(container, objects, new Dictionary<string, string> { ["metadata.name"] = "x", ["metadata.namespace"] = "x", ["status.podIP"] = "127.0.0.1" }, secrets)["UNetCluster__Storage__Container"];
        var blobs = UNetCluster.Data.Storage.AzureBlobStore.Connect(_azurite.ConnectionString, container0);
        Assert.NotNull(await blobs.ReadAsync($"jobs/{jobId}/record.json", TestContext.Current.CancellationToken));
        Assert.NotNull(await blobs.ReadAsync($"jobs/{jobId}/latest", TestContext.Current.CancellationToken));

        // A pod being deleted gets SIGTERM and has the grace period to stop: the silo leaves the cluster within it.
        var grace = TimeSpan.FromSeconds(Manifests.PodSpec(deployment).GetProperty("terminationGracePeriodSeconds").GetInt32());
        var (last, _) = pods[^1];
        var stopwatch = Stopwatch.StartNew();
        using (var term = Process.Start("kill", ["-TERM", last.Process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await term.WaitForExitAsync(TestContext.Current.CancellationToken);
        }

        Assert.True(last.Process.WaitForExit(grace), $"the silo did not stop within the grace period {grace}:\n{Tail(last.Output)}");
        Assert.True(stopwatch.Elapsed < grace);
    }

    /// <summary>
    /// Publishes the container's ports on free loopback ports (every local pod shares 127.0.0.1): each setting whose
    /// value is a container port, or ends a URL with it, gets the published port. Service host:port pairs of the
    /// manifests become the loopback Redis and Azurite.
    /// </summary>
    private Dictionary<string, int> Publish(JsonElement container, Dictionary<string, string> environment)
    {
        var published = container.GetProperty("ports").EnumerateArray()
            .ToDictionary(p => p.GetProperty("name").GetString()!, p => (Container: p.GetProperty("containerPort").GetInt32(), Local: LoopbackPorts.Next()));
        foreach (var key in environment.Keys.ToList())
        {
            var value = Services(environment[key]);
            foreach (var (containerPort, local) in published.Values)
            {
                var port = containerPort.ToString(CultureInfo.InvariantCulture);
                value = value == port ? local.ToString(CultureInfo.InvariantCulture) : Regex.Replace(value, $@":{port}(?=$|[/;])", $":{local}");
            }

            environment[key] = value;
        }

        return published.ToDictionary(p => p.Key, p => p.Value.Local);
    }

    private string Services(string value) => value
        .Replace("redis:6379", $"127.0.0.1:{_redisPort}", StringComparison.Ordinal)
        .Replace("http://azurite:10000/", $"http://127.0.0.1:{_azurite.Port}/", StringComparison.Ordinal);

    /// <summary>Starts a container's image entrypoint (or its command) with its args, in the build output standing in for the image's WORKDIR.</summary>
    private ChildProcess StartContainer(string name, JsonElement container, Dictionary<string, string> environment)
    {
        var image = Dockerfile.Read(container.GetProperty("image").GetString()!);
        Assert.Equal("/app", image.WorkingDirectory);
        var command = container.TryGetProperty("command", out var c) ? [.. c.EnumerateArray().Select(x => x.GetString()!)] : image.Entrypoint.ToList();
        var args = container.TryGetProperty("args", out var a) ? a.EnumerateArray().Select(x => x.GetString()!) : [];
        var start = new ProcessStartInfo(command[0]) { WorkingDirectory = AppContext.BaseDirectory };
        foreach (var argument in command.Skip(1).Concat(args))
        {
            start.ArgumentList.Add(argument);
        }

        // A container's environment: the image's ENV, then the pod's, and nothing of the test runner's but the basics.
        var inherited = start.Environment.Where(e => e.Key is "PATH" or "HOME" or "DOTNET_ROOT" or "TMPDIR").ToList();
        start.Environment.Clear();
        foreach (var (key, value) in inherited.Concat(image.Environment.Select(e => KeyValuePair.Create(e.Key, (string?)e.Value)))
            .Concat(environment.Select(e => KeyValuePair.Create(e.Key, (string?)Services(e.Value)))))
        {
            start.Environment[key] = value;
        }

        return Start(name, start);
    }

    private ChildProcess Start(string name, ProcessStartInfo start)
    {
        var process = new ChildProcess(name, start);
        _processes.Add(process);
        return process;
    }

    private static async Task WaitForOkAsync(HttpClient http, Uri uri, ChildProcess owner, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var last = "no answer";
        while (DateTime.UtcNow < deadline && !owner.Process.HasExited)
        {
            try
            {
                using var response = await http.GetAsync(uri);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }

                last = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
            }
            catch (HttpRequestException e)
            {
                last = e.Message;
            }

            await Task.Delay(500);
        }

        Assert.Fail($"{owner.Name}: {uri} did not answer 200 in {timeout} (last: {last}):\n{Tail(owner.Output)}");
    }

    private static string Tail(string text) => text.Length > 4000 ? text[^4000..] : text;

    private static string Tail(IEnumerable<(ChildProcess Process, int HttpPort)> pods) =>
        string.Join('\n', pods.Select(p => $"--- {p.Process.Name}\n{Tail(p.Process.Output)}"));
}
