using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace UNetCluster.Silo.Hosting;

/// <summary>
/// The probe endpoints deploy/k8s points Kubernetes at. None of them calls a grain: a silo busy with a long step, or a
/// cluster whose grains are slow, must not get its pods restarted.
/// <list type="bullet">
/// <item><c>/healthz/live</c>: the process is up and serving HTTP (always 200).</item>
/// <item><c>/healthz/startup</c>: the host has started, so the silo has joined its cluster (200, else 503).</item>
/// <item><c>/healthz/ready</c>: this silo is an active member of the cluster in its own membership view and is not
/// stopping (200, else 503): the gateway Service sends clients only to ready silos.</item>
/// </list>
/// </summary>
public static class HealthExtensions
{
    public const string LivePath = "/healthz/live";
    public const string StartupPath = "/healthz/startup";
    public const string ReadyPath = "/healthz/ready";

    public static IEndpointRouteBuilder MapUNetHealth(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGet(LivePath, () => Results.Json(new { status = "live" }));
        endpoints.MapGet(StartupPath, (IHostApplicationLifetime lifetime) =>
            lifetime.ApplicationStarted.IsCancellationRequested
                ? Results.Json(new { status = "started" })
                : Results.Json(new { status = "starting" }, statusCode: StatusCodes.Status503ServiceUnavailable));
        endpoints.MapGet(ReadyPath, (IServiceProvider services, IHostApplicationLifetime lifetime) =>
        {
            var status = LocalSiloStatus(services);
            var ready = status == SiloStatus.Active && !lifetime.ApplicationStopping.IsCancellationRequested;
            return Results.Json(new { status = status.ToString() }, statusCode: ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });
        return endpoints;
    }

    /// <summary>This silo's status in its own (local, never remote) membership snapshot.</summary>
    private static SiloStatus LocalSiloStatus(IServiceProvider services)
    {
        var membership = services.GetService<IClusterMembershipService>();
        var silo = services.GetService<ILocalSiloDetails>();
        if (membership is null || silo is null)
        {
            return SiloStatus.None;
        }

        return membership.CurrentSnapshot.GetSiloStatus(silo.SiloAddress);
    }
}
