using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.OpenApi;
using Orleans.Dashboard;
using UNetCluster.Silo.Api;
using UNetCluster.Silo.Dashboard;

namespace UNetCluster.Silo.Hosting;

/// <summary>
/// The silo's HTTP endpoint (<c>UNetCluster:Http</c>): the REST API under <c>/api</c>, the training dashboard at
/// <c>/</c>, its OpenAPI document at <c>/openapi/v1.json</c>, the probes under <c>/healthz</c>, Prometheus'
/// <c>/metrics</c>, and the Orleans Dashboard under <c>/orleans</c>. Every error is RFC 9457 problem details. Kestrel binds to
/// <see cref="HttpSettings.Urls"/> (loopback by default).
/// </summary>
public static partial class HttpExtensions
{
    public const string OrleansDashboardPath = "/orleans";

    /// <summary>Where the OpenAPI document of the REST API is served (ASP.NET Core's conventional path; the document is <c>v1</c>).</summary>
    public const string OpenApiPath = "/openapi/{documentName}.json";

    public static WebApplicationBuilder AddUNetHttp(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var http = UNetSiloOptionsValidator.Read(builder.Configuration).Http;
        builder.WebHost.UseUrls(http.Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        builder.Services.AddSingleton(new BearerToken(http.Token));
        builder.Logging.HideRequestUrls();
        builder.Services.AddUNetApiJson();
        // The document describes the REST API only (not the dashboards, /metrics or the probes), and is public like the
        // rest of what can be read: it holds no secret, and clients need it before they hold a token.
        builder.Services.AddOpenApi(o =>
        {
            o.ShouldInclude = d => d.RelativePath?.StartsWith("api/", StringComparison.Ordinal) == true;
            o.AddSchemaTransformer(NumberOrNamedLiteral);
            o.AddDocumentTransformer(BearerToken.DescribeSchemeAsync);
        });
        builder.AddUNetHealth();
        return builder;
    }

    /// <summary>
    /// How the REST API writes its bodies, for the silo's endpoint and the embedded dashboard alike: camelCase enum values,
    /// "NaN" for a loss that diverged, and every error as RFC 9457 problem details.
    /// </summary>
    public static IServiceCollection AddUNetApiJson(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
            o.SerializerOptions.NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals;
        });
        return services.AddProblemDetails(o => o.CustomizeProblemDetails = ApiErrors.Complete);
    }

    public static WebApplication MapUNetOperations(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var http = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<UNetSiloOptions>>().Value.Http;
        app.UseUNetProblemDetails();
        app.MapUNetHealth();
        app.MapOperationsApi();
        app.MapOpenApi(OpenApiPath);
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

    /// <summary>
    /// A number the API may write as "NaN" or "Infinity" (named literals are allowed for a loss that diverged) is
    /// generated as <c>anyOf: [number, enum]</c> but also typed <c>object</c>, which no number satisfies: the type goes.
    /// </summary>
    private static Task NumberOrNamedLiteral(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancellationToken)
    {
        if (schema.Type == JsonSchemaType.Object && schema.AnyOf?.Any(s => s.Type == JsonSchemaType.Number) == true)
        {
            schema.Type = null;
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Errors as problem details: an unhandled exception (a grain call that throws, say) and an empty 4xx or 5xx answer
    /// get the same <c>application/problem+json</c> body as the API's own refusals (<see cref="ApiErrors"/>).
    /// </summary>
    public static IApplicationBuilder UseUNetProblemDetails(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        return app;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Serving the dashboard, /api, /openapi/v1.json, /metrics and /orleans on {Urls}; bearer token {Token}")]
    private static partial void LogServing(ILogger logger, string urls, string token);
}
