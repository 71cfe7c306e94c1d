using Azure.Core;
using Azure.Identity;

namespace UNetCluster.Data.Storage;

/// <summary>
/// The one place that says how UNetCluster authenticates to Azure Storage without a connection string: Azure.Identity's
/// <see cref="DefaultAzureCredential"/>, whose chain tries environment variables (a service principal), workload identity
/// (AKS: the pod's service account federated with a managed identity), a managed identity, then a developer's sign-in
/// (Azure CLI and the like). <c>AZURE_TOKEN_CREDENTIALS</c> narrows the chain, as Azure.Identity documents.
/// </summary>
public static class AzureIdentity
{
    public static TokenCredential DefaultCredential() => new DefaultAzureCredential();

    /// <summary>
    /// Whether <paramref name="text"/> is an Azure Storage service URI a token may be sent to: absolute, https (Azure.Core
    /// refuses bearer tokens over plain http), no query (a SAS belongs in a connection string) and no fragment.
    /// </summary>
    public static bool IsServiceUri(string text) =>
        Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme == Uri.UriSchemeHttps && uri.Host.Length > 0
        && uri.Query.Length == 0 && uri.Fragment.Length == 0 && uri.UserInfo.Length == 0;

    /// <summary>
    /// Whether a value that may be either a connection string or a service URI (<c>--blob</c>, <c>--azure-table</c>) is
    /// the URI: a <see cref="IsServiceUri"/> with no '=' (every connection string has one).
    /// </summary>
    public static bool IsServiceUriNotConnectionString(string value) => IsServiceUri(value) && !value.Contains('=', StringComparison.Ordinal);
}
