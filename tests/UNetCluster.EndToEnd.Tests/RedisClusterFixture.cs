using System.Diagnostics;
using System.Globalization;
using UNetCluster.Tests.Common;

namespace UNetCluster.EndToEnd.Tests;

/// <summary>
/// A real <c>redis-server</c> on loopback (Debian's, installed by scripts/setup.sh) and three silo processes that use it
/// for membership, each with its own silo and gateway ports (and a free data-plane port; the last silo has the data
/// plane off), keeping job records and checkpoints in a real Azurite
/// (the npm package pinned in tools/azurite): what a user runs on several machines, on one machine.
/// </summary>
public sealed class RedisClusterFixture : IAsyncLifetime
{
    public const int SiloCount = 3;
    public const string Container = "e2e";

    private readonly List<ChildProcess> _silos = [];
    private readonly Dictionary<ChildProcess, string> _httpUrls = [];
    private readonly UNetCluster.Tests.Common.AzuriteFixture _azurite = new();
    private ChildProcess? _redis;

    public string ClusterId { get; } = "e2e-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>The data-plane secret every silo of the cluster shares.</summary>
    public string DataPlaneSecret { get; } = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    public string StorageRoot { get; } = Path.Combine(Path.GetTempPath(), "unetcluster-tests", "e2e-" + Guid.NewGuid().ToString("N"));

    public int RedisPort { get; } = LoopbackPorts.Next();

    public string Redis => $"127.0.0.1:{RedisPort}";

    public IReadOnlyList<ChildProcess> Silos => _silos;

    /// <summary>Where silo process <paramref name="silo"/> serves its REST API (http://127.0.0.1:port).</summary>
    public string HttpUrlOf(ChildProcess silo) => _httpUrls[silo];

    /// <summary>The folder silo <paramref name="index"/> (and any silo started in its place) caches stored data sets in.</summary>
    public string CacheOf(int index) => Path.Combine(StorageRoot, $"cache-{index}");

    public IReadOnlyList<int> GatewayPorts { get; private set; } = [];

    /// <summary>The cluster's blob store (job records, checkpoints), as the silos see it.</summary>
    public UNetCluster.Data.Storage.IBlobStore Blobs => UNetCluster.Data.Storage.AzureBlobStore.Connect(_azurite.ConnectionString, Container);

    public async ValueTask InitializeAsync()
    {
        await _azurite.InitializeAsync();
        _ = _azurite.ConnectionString;   // throws with the reason when Azurite did not start
        var server = File.Exists("/usr/bin/redis-server") ? "/usr/bin/redis-server" : "redis-server";
        _redis = new ChildProcess("redis-server", new ProcessStartInfo(server)
        {
            ArgumentList = { "--port", RedisPort.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", string.Empty, "--appendonly", "no" },
        });
        await ChildProcess.WaitForPortAsync(RedisPort, _redis, TimeSpan.FromSeconds(20));

        var gateways = new List<int>();
        for (var i = 0; i < SiloCount; i++)
        {
            var gateway = LoopbackPorts.Next();
            gateways.Add(gateway);
            _silos.Add(StartSilo(i, LoopbackPorts.Next(), gateway));
        }

        GatewayPorts = gateways;
        for (var i = 0; i < SiloCount; i++)
        {
            await ChildProcess.WaitForPortAsync(gateways[i], _silos[i], TimeSpan.FromSeconds(90));
        }

        await WaitForActiveSilosAsync();
    }

    /// <summary>Stops the cluster's storage (Azurite, SIGTERM), as an outage of the storage account would.</summary>
    public Task StopStorageAsync() => _azurite.StopAsync();

    /// <summary>Starts the cluster's storage again on the same port with the same blobs.</summary>
    public Task StartStorageAsync() => _azurite.StartAsync();

    /// <summary>Starts a new silo process in place of <paramref name="dead"/> and waits until it is an active member.</summary>
    public async Task ReplaceAsync(ChildProcess dead)
    {
        var index = _silos.IndexOf(dead);
        var gateway = LoopbackPorts.Next();
        var silo = StartSilo(index, LoopbackPorts.Next(), gateway);
        _silos[index] = silo;
        dead.Dispose();
        await ChildProcess.WaitForPortAsync(gateway, silo, TimeSpan.FromSeconds(90));
        await WaitForActiveSilosAsync();
    }

    private async Task WaitForActiveSilosAsync()
    {
        // Listening is not membership: wait until the cluster itself lists every silo as active.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (true)
        {
            var (code, output, _) = await UnetAsync("silos");
            if (code == 0 && output.Split('\n').Count(l => l.TrimEnd().EndsWith(" active", StringComparison.Ordinal)) == SiloCount)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"The silos did not all become active:\n{output}\n{Diagnostics()}");
            }

            await Task.Delay(500);
        }
    }

    public ValueTask DisposeAsync()
    {
        foreach (var silo in _silos)
        {
            silo.Dispose();
        }

        _redis?.Dispose();
        return _azurite.DisposeAsync();
    }

    /// <summary>The Azurite connection string the silos use.</summary>
    public string BlobConnection => _azurite.ConnectionString;

    /// <summary>Runs the <c>unet</c> CLI as a process against this cluster; returns its exit code and output.</summary>
    public Task<(int ExitCode, string Output, string Error)> UnetAsync(params string[] args) => RunUnetAsync(args, ["--redis", Redis, "--cluster-id", ClusterId]);

    /// <summary>Runs the <c>unet</c> CLI as a process with exactly these arguments.</summary>
    public static Task<(int ExitCode, string Output, string Error)> UnetPlainAsync(params string[] args) => RunUnetAsync(args, []);

    private static async Task<(int ExitCode, string Output, string Error)> RunUnetAsync(string[] args, string[] cluster)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "unet.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var arg in cluster)
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(3));
        return (process.ExitCode, await output, await error);
    }

    public string Diagnostics() => string.Join("\n\n", _silos.Select(s => $"--- {s.Name}\n{Tail(s.Output)}"));

    private static string Tail(string text) => text.Length > 6000 ? text[^6000..] : text;

    private ChildProcess StartSilo(int index, int siloPort, int gatewayPort)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = AppContext.BaseDirectory };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "UNetCluster.Silo.dll"));
        var http = $"http://127.0.0.1:{LoopbackPorts.Next()}";   // each silo its own HTTP port
        var settings = new Dictionary<string, string>
        {
            ["UNetCluster__Cluster__Clustering"] = "Redis",
            ["UNetCluster__Cluster__Redis"] = Redis,
            ["UNetCluster__Cluster__ClusterId"] = ClusterId,
            ["UNetCluster__Cluster__ServiceId"] = ClusterId,
            ["UNetCluster__Cluster__DataPlaneSecret"] = DataPlaneSecret,
            ["UNetCluster__Cluster__SiloPort"] = siloPort.ToString(CultureInfo.InvariantCulture),
            ["UNetCluster__Cluster__GatewayPort"] = gatewayPort.ToString(CultureInfo.InvariantCulture),
            ["UNetCluster__Cluster__ProbeTimeoutSeconds"] = "1",
            ["UNetCluster__Cluster__MissedProbesLimit"] = "2",
            ["UNetCluster__Cluster__ResponseTimeoutSeconds"] = "20",
            ["UNetCluster__Storage__Root"] = StorageRoot,
            ["UNetCluster__Storage__Blob"] = _azurite.ConnectionString,
            ["UNetCluster__Storage__Container"] = Container,
            ["UNetCluster__Data__Cache"] = CacheOf(index),                                    // each silo its own data cache
            ["UNetCluster__Worker__Threads"] = "1",
            ["UNetCluster__Http__Urls"] = http,
        };
        if (index == SiloCount - 1)
        {
            // This silo keeps the buckets on Orleans messages, so the cluster runs both paths: buckets between silos 0
            // and 1 go over the data plane, those to and from this one as grain messages.
            settings["UNetCluster__Cluster__DataPlane"] = "false";
        }

        foreach (var (key, value) in settings)
        {
            start.Environment[key] = value;
        }

        var silo = new ChildProcess($"silo {index} (silo port {siloPort}, gateway {gatewayPort}, {http})", start, siloPort);
        _httpUrls[silo] = http;
        return silo;
    }
}

[CollectionDefinition(Name)]
public sealed class RedisClusterTests : ICollectionFixture<RedisClusterFixture>
{
    public const string Name = "redis cluster";
}
