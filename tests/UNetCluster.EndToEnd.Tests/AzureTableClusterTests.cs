using System.Diagnostics;
using System.Globalization;
using UNetCluster.Tests.Common;

namespace UNetCluster.EndToEnd.Tests;

/// <summary>
/// Membership without Redis: three silo processes whose only shared service is an Azure Storage account (Azurite's blob
/// and table services on loopback), clustered through Orleans' Azure Table membership, as a cluster that has Azure
/// storage already would run; the CLI finds them through the same table.
/// </summary>
public sealed class AzureTableClusterFixture : IAsyncLifetime
{
    public const int SiloCount = 3;

    private readonly List<ChildProcess> _silos = [];
    private readonly List<int> _httpPorts = [];

    public AzuriteFixture Azurite { get; } = new() { Tables = true };

    public string ClusterId { get; } = "table-" + Guid.NewGuid().ToString("N")[..8];

    public IReadOnlyList<ChildProcess> Silos => _silos;

    public async ValueTask InitializeAsync()
    {
        await Azurite.InitializeAsync();
        var connection = Azurite.ConnectionString;   // throws with the reason when Azurite did not start
        var secret = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        var gateways = new List<int>();
        for (var i = 0; i < SiloCount; i++)
        {
            var (silo, gateway, http) = (LoopbackPorts.Next(), LoopbackPorts.Next(), LoopbackPorts.Next());
            var start = new ProcessStartInfo("dotnet") { WorkingDirectory = AppContext.BaseDirectory };
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "UNetCluster.Silo.dll"));
            foreach (var (key, value) in new Dictionary<string, string>
            {
                ["UNetCluster__Cluster__Clustering"] = "AzureTable",
                ["UNetCluster__Cluster__AzureTable"] = connection,
                ["UNetCluster__Cluster__ClusterId"] = ClusterId,
                ["UNetCluster__Cluster__ServiceId"] = ClusterId,
                ["UNetCluster__Cluster__DataPlaneSecret"] = secret,
                ["UNetCluster__Cluster__SiloPort"] = silo.ToString(CultureInfo.InvariantCulture),
                ["UNetCluster__Cluster__GatewayPort"] = gateway.ToString(CultureInfo.InvariantCulture),
                ["UNetCluster__Storage__Blob"] = connection,
                ["UNetCluster__Storage__Container"] = "tables-e2e",
                ["UNetCluster__Data__Cache"] = Path.Combine(Path.GetTempPath(), "unetcluster-tests", ClusterId, $"cache-{i}"),
                ["UNetCluster__Worker__Threads"] = "1",
                ["UNetCluster__Http__Urls"] = $"http://127.0.0.1:{http}",
            })
            {
                start.Environment[key] = value;
            }

            _silos.Add(new ChildProcess($"table silo {i} (silo port {silo}, gateway {gateway})", start, silo));
            gateways.Add(gateway);
            _httpPorts.Add(http);
        }

        for (var i = 0; i < SiloCount; i++)
        {
            await ChildProcess.WaitForPortAsync(gateways[i], _silos[i], TimeSpan.FromSeconds(90));
        }
    }

    /// <summary>
    /// Waits until every silo answers its readiness probe (<c>/healthz/ready</c>, as Kubernetes would before sending it
    /// clients): active in its membership view, with every active silo in its cluster manifest. Returns the last answers.
    /// </summary>
    public async Task<string> WaitReadyAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + timeout;
        var answers = new string[SiloCount];
        while (true)
        {
            var ready = 0;
            for (var i = 0; i < SiloCount; i++)
            {
                try
                {
                    using var response = await http.GetAsync($"http://127.0.0.1:{_httpPorts[i]}/healthz/ready", cancellationToken);
                    answers[i] = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken)}";
                    ready += response.IsSuccessStatusCode ? 1 : 0;
                }
                catch (HttpRequestException e)
                {
                    answers[i] = e.Message;
                }
            }

            if (ready == SiloCount || DateTime.UtcNow > deadline)
            {
                return string.Join("\n", answers.Select((a, i) => $"silo {i}: {a}"));
            }

            await Task.Delay(250, cancellationToken);
        }
    }

    /// <summary>Runs the <c>unet</c> CLI against this cluster, finding it through the Azure table.</summary>
    public Task<(int ExitCode, string Output, string Error)> UnetAsync(params string[] args) =>
        RedisClusterFixture.UnetPlainAsync([.. args, "--azure-table", Azurite.ConnectionString, "--cluster-id", ClusterId]);

    public string Diagnostics() => string.Join("\n\n", _silos.Select(s => $"--- {s.Name}\n{(s.Output.Length > 4000 ? s.Output[^4000..] : s.Output)}"));

    public async ValueTask DisposeAsync()
    {
        foreach (var silo in _silos)
        {
            silo.Dispose();
        }

        await Azurite.DisposeAsync();
    }
}

[Trait("Category", "Cluster")]
public sealed class AzureTableClusterTests(AzureTableClusterFixture cluster) : IClassFixture<AzureTableClusterFixture>
{
    [Fact]
    public async Task ThreeSiloProcesses_ClusteredThroughAnAzureTable_SeeEachOtherAndRunAJobTogether()
    {
        // Listening is not membership: the CLI, reading the table, must list every silo as active.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        var (code, output, error) = (0, "", "");
        while (DateTime.UtcNow < deadline)
        {
            (code, output, error) = await cluster.UnetAsync("silos");
            if (code == 0 && output.Split('\n').Count(l => l.TrimEnd().EndsWith(" active", StringComparison.Ordinal)) == AzureTableClusterFixture.SiloCount)
            {
                break;
            }

            await Task.Delay(500, TestContext.Current.CancellationToken);
        }

        Assert.True(code == 0, $"exit {code}\n{output}\n{error}\n{cluster.Diagnostics()}");
        Assert.All(cluster.Silos, silo => Assert.Contains($":{silo.Port}", output, StringComparison.Ordinal));
        Assert.Equal(AzureTableClusterFixture.SiloCount, output.Split('\n').Count(l => l.TrimEnd().EndsWith(" active", StringComparison.Ordinal)));

        // The membership rows are in the table: each silo of this cluster active there.
        var table = new Azure.Data.Tables.TableClient(cluster.Azurite.ConnectionString, "OrleansSiloInstances");
        var rows = new List<string>();
        await foreach (var row in table.QueryAsync<Azure.Data.Tables.TableEntity>(e => e.PartitionKey == cluster.ClusterId, cancellationToken: TestContext.Current.CancellationToken))
        {
            rows.Add($"{row.RowKey} {row.GetString("Status")} {row.GetString("Port")}");
        }

        Assert.True(rows.Count(r => r.Contains(" Active ", StringComparison.Ordinal)) == AzureTableClusterFixture.SiloCount, string.Join("\n", rows));
        Assert.All(cluster.Silos, silo => Assert.Contains(rows, r => r.EndsWith($" {silo.Port}", StringComparison.Ordinal) && r.Contains(" Active ", StringComparison.Ordinal)));

        // Every silo ready (its probe is what a Kubernetes Service waits for), then a tiny job spread over the three completes.
        var probes = await cluster.WaitReadyAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
        Assert.True(probes.Split('\n').All(p => p.Contains(": 200 ", StringComparison.Ordinal)), probes);
        var job = await cluster.UnetAsync("submit", "--preset", "tiny", "--steps", "2", "--batch", "3", "--workers", "3", "--reducers", "3", "--id", "table-job", "--watch");
        Assert.True(job.ExitCode == 0, $"exit {job.ExitCode}\n{job.Output}\n{job.Error}\n{cluster.Diagnostics()}");
        var status = await cluster.UnetAsync("status", "table-job", "--json");
        using var json = System.Text.Json.JsonDocument.Parse(status.Output);
        Assert.Equal("completed", json.RootElement.GetProperty("state").GetString(), StringComparer.OrdinalIgnoreCase);
        Assert.Equal(2, json.RootElement.GetProperty("step").GetInt64());
        Assert.Equal(3, json.RootElement.GetProperty("workers").EnumerateArray().Select(w => w.GetString()!.Split('@')[1]).Distinct().Count());
    }
}
