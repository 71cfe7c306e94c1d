using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Dashboard;
using UNetCluster.Silo.Api;
using UNetCluster.Silo.Dashboard;

namespace UNetCluster.Silo.Hosting;

/// <summary>
/// The silo's HTTP endpoint (<c>UNetCluster:Http</c>): the REST API under <c>/api</c>, the training dashboard at
/// <c>/</c>, Prometheus' <c>/metrics</c>, and the Orleans Dashboard under <c>/orleans</c>. Kestrel binds to
/// <see cref="HttpSettings.Urls"/> (loopback by default).
/// </summary>
public static partial class HttpExtensions
{
    public const string OrleansDashboardPath = "/orleans";

    public static WebApplicationBuilder AddUNetHttp(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var http = builder.Configuration.GetSection(UNetSiloOptions.Section).Get<UNetSiloOptions>()?.Http ?? new HttpSettings();
        builder.WebHost.UseUrls(http.Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        builder.Services.AddSingleton(new BearerToken(http.Token));
        builder.Logging.HideRequestUrls();
        builder.Services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
            o.SerializerOptions.NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals;
        });
        return builder;
    }

    public static WebApplication MapUNetOperations(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var http = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<UNetSiloOptions>>().Value.Http;
        app.MapUNetHealth();
        app.MapOperationsApi();
        app.MapTrainingDashboard();
        app.MapPrometheusScrapingEndpoint();
        if (http.OrleansDashboard)
        {
            app.MapOrleansDashboard(OrleansDashboardPath);
        }

        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("UNetCluster.Silo.Http");
        app.Lifetime.ApplicationStarted.Register(() => LogServing(logger, http.Urls, http.Token is { Length: > 0 } ? "required and configured" : "not configured: submit and cancel are refused"));
        return app;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Serving the dashboard, /api, /metrics and /orleans on {Urls}; bearer token {Token}")]
    private static partial void LogServing(ILogger logger, string urls, string token);
}
