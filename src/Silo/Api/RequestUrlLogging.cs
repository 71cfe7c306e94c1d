using Microsoft.Extensions.Logging;

namespace UNetCluster.Silo.Api;

/// <summary>
/// Keeps request URLs, and so their query strings, out of the logs: ASP.NET Core's own request log ("Request
/// starting ... POST http://host/api/jobs?access_token=...") writes the full URL at Information, and a client that puts
/// its token in the URL (refused by <see cref="BearerToken"/>) would leave it there for anyone who reads the logs.
/// </summary>
public static class RequestUrlLogging
{
    /// <summary>The category of ASP.NET Core's request start and finish log.</summary>
    public const string HostingCategory = "Microsoft.AspNetCore.Hosting.Diagnostics";

    /// <summary>Only warnings and errors of that category; more specific than any "Microsoft.AspNetCore" level an operator sets.</summary>
    public static ILoggingBuilder HideRequestUrls(this ILoggingBuilder logging) => logging.AddFilter(HostingCategory, LogLevel.Warning);
}
