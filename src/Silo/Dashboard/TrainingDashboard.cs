using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace UNetCluster.Silo.Dashboard;

/// <summary>
/// The training dashboard: one HTML page with its script and style sheet, embedded in the silo (the network may be
/// closed: no CDN). It reads the REST API and the job's server-sent events; the curves are drawn as SVG.
/// </summary>
public static class TrainingDashboard
{
    private static readonly Dictionary<string, string> ContentTypes = new(StringComparer.Ordinal)
    {
        ["index.html"] = "text/html; charset=utf-8",
        ["dashboard.js"] = "text/javascript; charset=utf-8",
        ["dashboard.css"] = "text/css; charset=utf-8",
    };

    public static IEndpointRouteBuilder MapTrainingDashboard(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var files = ContentTypes.ToDictionary(kv => kv.Key, kv => (Bytes: Read(kv.Key), Type: kv.Value), StringComparer.Ordinal);
        endpoints.MapGet("/", () => Serve(files["index.html"]));
        endpoints.MapGet("/dashboard/{file}", (string file) => files.TryGetValue(file, out var content) ? Serve(content) : Results.NotFound());
        return endpoints;
    }

    private static Microsoft.AspNetCore.Http.HttpResults.FileContentHttpResult Serve((byte[] Bytes, string Type) content) => TypedResults.Bytes(content.Bytes, content.Type);

    private static byte[] Read(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("dashboard/" + name)
            ?? throw new InvalidOperationException($"The dashboard file '{name}' is not embedded in the silo.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
