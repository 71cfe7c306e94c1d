using System.Text;

namespace UNetCluster.Ops.Tests;

/// <summary>
/// Traces and metrics exported over OTLP by a silo started with <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>: one span per step,
/// with each worker's and each reducer's span under it, across the grain calls in between.
/// </summary>
[Collection(SiloTests.Name)]
[Trait("Category", "Api")]
public sealed class TracingTests(SiloFixture silo)
{
    [Fact]
    public async Task Otlp_JobSteps_ExportStepSpansWithWorkerAndReducerSpansUnderThemAndTheMetrics()
    {
        var id = await silo.SubmitAsync("trace-job", 3);
        await silo.WaitForAsync(id, s => s.IsFinished, TimeSpan.FromMinutes(2));

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        IReadOnlyList<OtlpReceiver.Span> spans;
        List<OtlpReceiver.Span> workers, reducers;
        Dictionary<string, OtlpReceiver.Span> byId;
        do
        {
            await Task.Delay(500, TestContext.Current.CancellationToken);
            spans = silo.Otlp.Spans();
            byId = spans.GroupBy(s => s.SpanId).ToDictionary(g => g.Key, g => g.First());
            workers = spans.Where(s => s.Name == "unet.worker.step" && StepAbove(s, byId) is not null).ToList();
            reducers = spans.Where(s => s.Name == "unet.reducer.reduce" && StepAbove(s, byId) is not null).ToList();
        }
        while ((workers.Count < 3 || reducers.Count < 3) && DateTime.UtcNow < deadline);

        var names = string.Join(", ", spans.Select(s => s.Name).Distinct());
        Assert.True(spans.Count(s => s.Name == "unet.step") >= 3, names);
        Assert.True(workers.Count >= 3, $"worker spans under a step: {workers.Count}; spans: {names}");
        Assert.True(reducers.Count >= 3, $"reducer spans under a step: {reducers.Count}; spans: {names}");

        // A worker's span is not the step's direct child: an Orleans grain-call span sits between them.
        Assert.Contains(workers, w => byId.TryGetValue(w.ParentSpanId, out var parent) && parent.Name != "unet.step");
        Assert.All(workers, w => Assert.Equal(StepAbove(w, byId)!.TraceId, w.TraceId));

        var metrics = silo.Otlp.Bodies("/v1/metrics");
        Assert.Contains(metrics, b => Encoding.UTF8.GetString(b).Contains("unet.step.duration", StringComparison.Ordinal));
    }

    /// <summary>The nearest <c>unet.step</c> span above <paramref name="span"/>, through any spans between.</summary>
    private static OtlpReceiver.Span? StepAbove(OtlpReceiver.Span span, Dictionary<string, OtlpReceiver.Span> byId)
    {
        var current = span;
        for (var depth = 0; depth < 32 && byId.TryGetValue(current.ParentSpanId, out var parent); depth++)
        {
            if (parent.Name == "unet.step")
            {
                return parent;
            }

            current = parent;
        }

        return null;
    }

    [Fact]
    public async Task Otlp_SilosLogs_ReachTheCollectorWithoutTheToken()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        var serving = Encoding.UTF8.GetBytes("Serving the dashboard");
        while (!silo.Otlp.Bodies("/v1/logs").Any(b => b.AsSpan().IndexOf(serving) >= 0))
        {
            Assert.True(DateTime.UtcNow < deadline, $"no log record reached the collector: {silo.Otlp.Bodies("/v1/logs").Count} log requests");
            await Task.Delay(500, TestContext.Current.CancellationToken);
        }

        var token = Encoding.UTF8.GetBytes(SiloFixture.Token);
        Assert.All(silo.Otlp.Bodies("/v1/logs"), b => Assert.True(b.AsSpan().IndexOf(token) < 0, "the token was exported in a log record"));
    }
}
