using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace UNetCluster.Client.Cluster;

/// <summary>
/// OpenTelemetry for the CLI's cluster client: when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set, its grain calls are
/// traced (Orleans' client spans, propagated into the silos' spans) and exported over OTLP with the <c>UNetCluster</c>
/// and Orleans meters. Without it the CLI sets nothing up: a short-lived command has no scrape endpoint.
/// </summary>
internal static class ClientTelemetry
{
    public const string SourceName = "UNetCluster";

    public static HostApplicationBuilder AddUNetClientTelemetry(this HostApplicationBuilder builder)
    {
        if (string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"] ?? Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT")))
        {
            return builder;
        }

        builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("unetcluster-cli", serviceInstanceId: $"{Environment.MachineName}-{Environment.ProcessId}"))
            .WithTracing(tracing => tracing.AddSource(SourceName, "Microsoft.Orleans.Application", "Microsoft.Orleans.Runtime"))
            .WithMetrics(metrics => metrics.AddMeter(SourceName, "Microsoft.Orleans"))
            .UseOtlpExporter();
        return builder;
    }
}
