using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace UNetCluster.Silo.Api;

/// <summary>
/// The bearer token state-changing requests must carry (<c>UNetCluster:Http:Token</c>). Compared in constant time
/// (fixed-length hashes of both sides, so neither the content nor the length leaks); never logged or echoed.
/// </summary>
public sealed class BearerToken(string? token)
{
    private readonly byte[]? _expected = token is { Length: > 0 } ? SHA256.HashData(Encoding.UTF8.GetBytes(token)) : null;

    /// <summary>The security scheme's name in the OpenAPI document.</summary>
    public const string SchemeName = "bearer";

    public bool IsConfigured => _expected is not null;

    /// <summary>Declares the bearer scheme in the OpenAPI document (a document transformer).</summary>
    public static Task DescribeSchemeAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(document);
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes[SchemeName] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            Description = "The token configured as UNetCluster:Http:Token, in 'Authorization: Bearer <token>' (a token in the URL is refused).",
        };
        return Task.CompletedTask;
    }

    /// <summary>Marks an operation that calls <see cref="Refuse"/> as needing the token, in the OpenAPI document (an operation transformer).</summary>
    public static Task DescribeRequirementAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(operation);
        ArgumentNullException.ThrowIfNull(context);
        operation.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(SchemeName, context.Document)] = [] }];
        return Task.CompletedTask;
    }

    /// <summary>Null when the request may change state; otherwise the 401 (no token) or 403 (wrong token, or none configured) to answer.</summary>
    public IResult? Refuse(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var header = request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) || header.Length == scheme.Length)
        {
            request.HttpContext.Response.Headers.WWWAuthenticate = "Bearer";
            if (request.Query.Keys.FirstOrDefault(k => k.Contains("token", StringComparison.OrdinalIgnoreCase)) is { } inUrl)
            {
                return ApiErrors.Problem(StatusCodes.Status401Unauthorized,
                    $"a token in the URL ('{inUrl}') is not accepted, since URLs end up in logs and proxies: send 'Authorization: Bearer <token>' instead.");
            }

            return ApiErrors.Problem(StatusCodes.Status401Unauthorized, "this request changes state: send 'Authorization: Bearer <token>' with the token configured as UNetCluster:Http:Token.");
        }

        if (_expected is null)
        {
            return ApiErrors.Problem(StatusCodes.Status403Forbidden, "this silo has no token configured (UNetCluster:Http:Token), so it accepts no state-changing request.");
        }

        var given = SHA256.HashData(Encoding.UTF8.GetBytes(header[scheme.Length..].Trim()));
        return CryptographicOperations.FixedTimeEquals(given, _expected)
            ? null
            : ApiErrors.Problem(StatusCodes.Status403Forbidden, "the bearer token is wrong.");
    }
}
