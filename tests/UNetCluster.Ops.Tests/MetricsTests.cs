using System.Text.Json;
using System.Text.RegularExpressions;

namespace UNetCluster.Ops.Tests;

/// <summary>
/// Prometheus' <c>/metrics</c> of a silo that ran steps and wrote checkpoints, against the Grafana dashboard in
/// <c>deploy/grafana/unetcluster.json</c>: every metric a panel queries must really be exported.
/// </summary>
[Collection(SiloTests.Name)]
[Trait("Category", "Api")]
public sealed partial class MetricsTests(SiloFixture silo)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string GrafanaPath => Path.Combine(SiloFixture.RepositoryRoot, "deploy", "grafana", "unetcluster.json");

    [Fact]
    public async Task Metrics_AfterStepsAndCheckpoints_ExportEveryMetricTheGrafanaDashboardQueries()
    {
        var id = await silo.SubmitAsync("metrics-job", 4, checkpointEvery: 2);
        var done = await silo.WaitForAsync(id, s => s.IsFinished, TimeSpan.FromMinutes(2));
        Assert.Equal(4, done.Step);

        var scrape = await silo.Http.GetStringAsync("metrics", Ct);
        var exported = ExportedNames(scrape);
        var queried = QueriedMetrics();
        Assert.True(queried.Count >= 10, $"the dashboard queries only {queried.Count} metrics: {string.Join(", ", queried)}");
        var missing = queried.Where(m => !exported.Contains(m)).ToList();
        Assert.True(missing.Count == 0, $"queried by the Grafana dashboard but not exported: {string.Join(", ", missing)}");

        // The job's own series carry its id, and the values are the job's: 4 steps, 2 checkpoints.
        Assert.Matches($@"unet_steps_committed_total\{{[^}}]*job_id=""{id}""[^}}]*\}} 4\b", scrape);
        Assert.Matches($@"unet_checkpoint_duration_seconds_count\{{[^}}]*job_id=""{id}""[^}}]*\}} 2\b", scrape);

        // Each worker's memory in use, tagged with what it computes in: a silo's process holds at least 64 MiB.
        var memory = WorkerMemory().Matches(scrape).Where(m => m.Value.Contains($"job_id=\"{id}\"", StringComparison.Ordinal)).ToList();
        var series = Assert.Single(memory);
        Assert.Contains("compute=\"cpu fp32\"", series.Value, StringComparison.Ordinal);
        Assert.InRange(double.Parse(series.Groups["bytes"].Value, System.Globalization.CultureInfo.InvariantCulture), 64.0 * (1 << 20), 1e12);
    }

    [Fact]
    public async Task Metrics_Scrape_ExportsTheProcessMemoryRuntimeAndHttpServerMetrics()
    {
        await silo.Http.GetStringAsync("api/jobs", Ct);   // at least one HTTP request before the scrape
        var scrape = await silo.Http.GetStringAsync("metrics", Ct);
        var exported = ExportedNames(scrape);

        Assert.Contains("dotnet_process_memory_working_set_bytes", exported);   // RSS, from the runtime's meter
        Assert.Contains("dotnet_gc_heap_total_allocated_bytes_total", exported);
        Assert.Contains("http_server_request_duration_seconds_bucket", exported);   // ASP.NET Core's meter
        // glibc malloc's heap, which the silo's GLIBC_TUNABLES shape: in use at least what libtorch has loaded.
        var inUse = MallocInUse().Match(scrape);
        Assert.True(inUse.Success, "unet_process_malloc_bytes{state=\"in_use\"} is not exported");
        Assert.InRange(double.Parse(inUse.Groups["bytes"].Value, System.Globalization.CultureInfo.InvariantCulture), 1 << 20, 1e12);
        Assert.Matches(@"(?m)^unet_process_malloc_bytes\{[^}]*state=""held""[^}]*\} ", scrape);
    }

    [Fact]
    public void GrafanaDashboard_EveryPanel_HasATitleAndQueriesOnlyUNetClusterOrOrleansMetrics()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(GrafanaPath));
        var panels = document.RootElement.GetProperty("panels").EnumerateArray().Where(p => p.GetProperty("type").GetString() != "row").ToList();
        Assert.True(panels.Count >= 8);
        foreach (var panel in panels)
        {
            Assert.False(string.IsNullOrWhiteSpace(panel.GetProperty("title").GetString()));
            var targets = panel.GetProperty("targets").EnumerateArray().ToList();
            Assert.NotEmpty(targets);
            foreach (var target in targets)
            {
                var names = MetricName().Matches(target.GetProperty("expr").GetString()!).Select(m => m.Value).ToList();
                Assert.NotEmpty(names);
                Assert.All(names, n => Assert.True(n.StartsWith("unet_", StringComparison.Ordinal) || n.StartsWith("orleans_", StringComparison.Ordinal), n));
            }
        }
    }

    private static HashSet<string> QueriedMetrics()
    {
        var text = File.ReadAllText(GrafanaPath);
        using var document = JsonDocument.Parse(text);
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var panel in document.RootElement.GetProperty("panels").EnumerateArray())
        {
            if (!panel.TryGetProperty("targets", out var targets))
            {
                continue;
            }

            foreach (var target in targets.EnumerateArray())
            {
                names.UnionWith(MetricName().Matches(target.GetProperty("expr").GetString()!).Select(m => m.Value));
            }
        }

        return names;
    }

    /// <summary>Series names in the Prometheus text format (histograms' _bucket, _sum and _count are names of their own).</summary>
    private static HashSet<string> ExportedNames(string scrape) =>
        scrape.Split('\n').Where(l => l.Length > 0 && l[0] != '#').Select(l => SeriesName().Match(l).Value).Where(n => n.Length > 0).ToHashSet(StringComparer.Ordinal);

    [GeneratedRegex(@"\b(unet|orleans)_[a-z0-9_]+")]
    private static partial Regex MetricName();

    [GeneratedRegex(@"^unet_worker_memory_bytes\{[^}]*\} (?<bytes>[0-9.e+]+)", RegexOptions.Multiline)]
    private static partial Regex WorkerMemory();

    [GeneratedRegex(@"^unet_process_malloc_bytes\{[^}]*state=""in_use""[^}]*\} (?<bytes>[0-9.e+]+)", RegexOptions.Multiline)]
    private static partial Regex MallocInUse();

    [GeneratedRegex(@"^[a-zA-Z_:][a-zA-Z0-9_:]*")]
    private static partial Regex SeriesName();
}
