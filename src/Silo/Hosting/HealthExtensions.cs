using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace UNetCluster.Silo.Hosting;

/// <summary>
/// The probe endpoints deploy/k8s points Kubernetes at, as ASP.NET Core health checks: each check carries the tag of
/// the probe it answers, and each probe path runs only the checks of its tag. None of them calls a grain: a silo busy
/// with a long step, or a cluster whose grains are slow, must not get its pods restarted.
/// <list type="bullet">
/// <item><c>/healthz/live</c> (tag <c>live</c>): the process is up and serving HTTP (always 200).</item>
/// <item><c>/healthz/startup</c> (tag <c>startup</c>): the host has started, so the silo has joined its cluster (200, else 503).</item>
/// <item><c>/healthz/ready</c> (tag <c>ready</c>): this silo is an active member of the cluster in its own membership
/// view, its cluster manifest holds every silo active in that view (until it does, its grain placement does not see
/// them, and a grain it places right after the cluster formed can fail with "No active nodes are compatible"), and it
/// is not stopping (200, else 503): the gateway Service sends clients only to ready silos.</item>
/// </list>
/// The body is JSON: the overall status and each check's status and description.
/// </summary>
public static class HealthExtensions
{
    public const string LivePath = "/healthz/live";
    public const string StartupPath = "/healthz/startup";
    public const string ReadyPath = "/healthz/ready";

    public const string LiveTag = "live";
    public const string StartupTag = "startup";
    public const string ReadyTag = "ready";

    public static TBuilder AddUNetHealth<TBuilder>(this TBuilder builder)
        where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddHealthChecks()
            .AddCheck("process", () => HealthCheckResult.Healthy("the process is serving HTTP"), [LiveTag])
            .AddCheck<StartedCheck>("started", tags: [StartupTag])
            .AddCheck<MembershipCheck>("membership", tags: [ReadyTag]);
        return builder;
    }

    public static IEndpointRouteBuilder MapUNetHealth(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapHealthChecks(LivePath, Probe(LiveTag));
        endpoints.MapHealthChecks(StartupPath, Probe(StartupTag));
        endpoints.MapHealthChecks(ReadyPath, Probe(ReadyTag));
        return endpoints;
    }

    private static HealthCheckOptions Probe(string tag) => new()
    {
        Predicate = check => check.Tags.Contains(tag),
        ResponseWriter = WriteAsync,
    };

    private static Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        var body = new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), description = e.Value.Description }),
        };
        return context.Response.WriteAsync(JsonSerializer.Serialize(body, JsonSerializerOptions.Web), context.RequestAborted);
    }

    /// <summary>The host has started: Orleans starts the silo, and so joins the cluster, before the host reports started.</summary>
    private sealed class StartedCheck(IHostApplicationLifetime lifetime) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
            Task.FromResult(lifetime.ApplicationStarted.IsCancellationRequested
                ? HealthCheckResult.Healthy("started")
                : HealthCheckResult.Unhealthy("starting"));
    }

    /// <summary>This silo's status in its own (local, never remote) membership snapshot, and the host not stopping.</summary>
    private sealed class MembershipCheck(IServiceProvider services, IHostApplicationLifetime lifetime) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            var membership = services.GetService<IClusterMembershipService>();
            var silo = services.GetService<ILocalSiloDetails>();
            var snapshot = membership?.CurrentSnapshot;   // one view for both questions
            var status = snapshot is null || silo is null ? SiloStatus.None : snapshot.GetSiloStatus(silo.SiloAddress);
            var description = $"this silo is {status} in its membership view";
            var unknown = status == SiloStatus.Active ? UnknownToManifest(snapshot!) : 0;
            return Task.FromResult(
                lifetime.ApplicationStopping.IsCancellationRequested ? HealthCheckResult.Unhealthy(description + " and stopping")
                : unknown > 0 ? HealthCheckResult.Unhealthy($"{description}, but its cluster manifest does not hold {unknown} of the active silos yet")
                : status == SiloStatus.Active ? HealthCheckResult.Healthy(description)
                : HealthCheckResult.Unhealthy(description));
        }

        /// <summary>How many silos active in <paramref name="snapshot"/> this silo's cluster manifest does not hold yet.</summary>
        private int UnknownToManifest(ClusterMembershipSnapshot snapshot)
        {
            var manifest = services.GetService<IClusterManifestProvider>()?.Current;
            return manifest is null ? 0 : snapshot.Members.Values.Count(m => m.Status == SiloStatus.Active && !manifest.Silos.ContainsKey(m.SiloAddress));
        }
    }
}
