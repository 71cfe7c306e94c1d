using UNetCluster.Training.Settings;

namespace UNetCluster.Silo.Hosting;

/// <summary>
/// The silo's HTTP endpoint (section <c>UNetCluster:Http</c>): the REST API, the dashboard, <c>/metrics</c> and the
/// Orleans Dashboard. Printing it never shows the token.
/// </summary>
public sealed record HttpSettings
{
    /// <summary>Kestrel URLs, separated by ';'. Default: loopback only; serve other hosts only on purpose.</summary>
    public string Urls { get; init; } = "http://127.0.0.1:8080";

    /// <summary>
    /// The bearer token that state-changing requests (submit, cancel) must carry. Unset: they are refused (403), the
    /// rest of the API and the dashboard still work.
    /// </summary>
    public string? Token { get; init; }

    /// <summary>Whether the Orleans Dashboard is mounted under <c>/orleans</c>.</summary>
    public bool OrleansDashboard { get; init; } = true;

    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append("Urls = ").Append(Urls).Append(", Token = ").Append(Token is null ? "(unset)" : "(set)")
            .Append(", OrleansDashboard = ").Append(OrleansDashboard);
        return true;
    }
}

/// <summary>The silo's configuration, bound from appsettings.json and <c>UNetCluster__...</c> environment variables.</summary>
public sealed record UNetSiloOptions
{
    public const string Section = "UNetCluster";

    public ClusterSettings Cluster { get; init; } = new();

    public StorageSettings Storage { get; init; } = new();

    public DataSettings Data { get; init; } = new();

    public WorkerSettings Worker { get; init; } = new();

    public HttpSettings Http { get; init; } = new();
}
