using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using UNetCluster.Silo.Api;
using UNetCluster.Silo.Dashboard;

namespace UNetCluster.Silo.Hosting;

/// <summary>
/// The training dashboard and the read side of the REST API for an embedded silo (<c>unet train --dashboard</c>): served
/// on loopback only, every request authenticated with a <see cref="DashboardSession"/> key, whose value is also the
/// bearer token for cancelling from the page.
/// </summary>
public static class EmbeddedDashboard
{
    /// <summary>A web application builder listening on 127.0.0.1:<paramref name="port"/> (0: a free port) with the dashboard's services.</summary>
    public static WebApplicationBuilder CreateBuilder(int port, DashboardSession session)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentOutOfRangeException.ThrowIfNegative(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, IPEndPoint.MaxPort);
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [] });
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port));
        builder.Services.AddSingleton(session);
        builder.Services.AddSingleton(new BearerToken(session.Key));
        builder.Services.AddUNetApiJson();
        return builder;
    }

    /// <summary>Maps the session check, the REST API and the dashboard page.</summary>
    public static WebApplication MapEmbeddedDashboard(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseUNetProblemDetails();
        app.Services.GetRequiredService<DashboardSession>().Require(app);
        app.MapOperationsApi();
        app.MapTrainingDashboard();
        return app;
    }

    /// <summary>The address the dashboard listens on, once started (the port chosen when 0 was asked for).</summary>
    public static Uri Address(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var addresses = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses;
        return new Uri(addresses.First().Replace("[::1]", "127.0.0.1", StringComparison.Ordinal));
    }
}
