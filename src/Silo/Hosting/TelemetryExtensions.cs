using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using UNetCluster.Silo.Telemetry;

namespace UNetCluster.Silo.Hosting;

/// <summary>
/// OpenTelemetry for the silo: the <c>UNetCluster</c> meter and activity source plus Orleans' own, a Prometheus
/// scraping endpoint always (mapped by <see cref="HttpExtensions"/>), and traces plus OTLP export of metrics, traces and
/// logs when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set (the exporter reads the standard <c>OTEL_*</c> variables). The
/// metrics include the .NET runtime's (GC heap, RSS), ASP.NET Core's (HTTP requests) and glibc malloc's heap.
/// </summary>
public static class TelemetryExtensions
{
    /// <summary>Orleans' meter.</summary>
    public const string OrleansMeter = "Microsoft.Orleans";

    /// <summary>Orleans' activity sources: grain calls made by application code and by the runtime.</summary>
    public static readonly string[] OrleansSources = ["Microsoft.Orleans.Application", "Microsoft.Orleans.Runtime"];

    public static TBuilder AddUNetTelemetry<TBuilder>(this TBuilder builder, string serviceName)
        where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        UNetTelemetry.ObserveProcess();
        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(serviceName, serviceInstanceId: $"{Environment.MachineName}-{Environment.ProcessId}"))
            .WithMetrics(metrics => metrics.AddMeter(UNetTelemetry.Name, OrleansMeter)
                .AddRuntimeInstrumentation()       // GC heap, RSS (dotnet.process.memory.working_set), thread pool, exceptions
                .AddAspNetCoreInstrumentation()    // HTTP request durations and Kestrel connections of the REST API and dashboard
                .AddPrometheusExporter());
        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            // Spans are only created when something exports them: without a listener the step, worker and reducer
            // spans and Orleans' span per grain call (several per bucket) cost nothing. Logs go to the collector too,
            // besides the console.
            telemetry.WithTracing(tracing => tracing.AddSource(UNetTelemetry.Name).AddSource(OrleansSources))
                .WithLogging()
                .UseOtlpExporter();
        }

        return builder;
    }
}
