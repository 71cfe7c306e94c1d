using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using UNetCluster.Silo.Api;

namespace UNetCluster.Silo.Dashboard;

/// <summary>
/// The key of a dashboard that serves one person (<c>unet train --dashboard</c>): every request must prove it holds it,
/// reads included, since anything listening on a port authenticates what it serves. The printed URL carries it once
/// (<c>/?session=KEY</c>); that request gets an HttpOnly, SameSite=Strict cookie and a redirect to <c>/</c>, so the key
/// leaves the address bar and the page's own requests (fetch, server-sent events) carry the cookie. Scripts send it as a
/// bearer token instead. The key is also the bearer token of the state-changing requests (<see cref="BearerToken"/>).
/// Compared in constant time; never logged or echoed.
/// </summary>
public sealed class DashboardSession
{
    public const string CookieName = "unet-session";
    public const string QueryName = "session";

    private readonly byte[] _expected;

    public DashboardSession(string key)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        Key = key;
        _expected = SHA256.HashData(Encoding.UTF8.GetBytes(key));
    }

    /// <summary>The key, for the URL printed to the person who started the dashboard.</summary>
    public string Key { get; }

    /// <summary>A new random key (256 bits, URL-safe).</summary>
    public static DashboardSession CreateRandom() =>
        new(Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_'));

    /// <summary>Refuses every request that does not carry the key (cookie or bearer token) with a 401 problem; trades the URL's key for the cookie.</summary>
    public IApplicationBuilder Require(IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        return app.Use(async (context, next) =>
        {
            var request = context.Request;
            if (request.Query.TryGetValue(QueryName, out var given) && HttpMethods.IsGet(request.Method) && Matches(given.ToString()))
            {
                context.Response.Cookies.Append(CookieName, Key, new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Strict, Path = "/", IsEssential = true });
                context.Response.Redirect(request.PathBase + request.Path);
                return;
            }

            var header = request.Headers.Authorization.ToString();
            if ((request.Cookies.TryGetValue(CookieName, out var cookie) && Matches(cookie))
                || (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && Matches(header["Bearer ".Length..].Trim())))
            {
                await next(context).ConfigureAwait(false);
                return;
            }

            context.Response.Headers.WWWAuthenticate = "Bearer";
            await ApiErrors.Problem(StatusCodes.Status401Unauthorized,
                    "this dashboard serves only whoever holds its session key: open the URL 'unet train --dashboard' printed (it carries the key once), or send 'Authorization: Bearer <key>'.")
                .ExecuteAsync(context).ConfigureAwait(false);
        });
    }

    private bool Matches(string? given) =>
        given is { Length: > 0 } && CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(given)), _expected);
}
