using System.ComponentModel;
using System.Globalization;
using System.Net;
using System.Reflection;
using System.Text.RegularExpressions;
using Azure.Storage.Blobs;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using UNetCluster.Data.Storage;
using UNetCluster.Model.Training;
using UNetCluster.Training.Settings;

namespace UNetCluster.Silo.Hosting;

/// <summary>
/// Reads and checks the silo's settings (<c>UNetCluster:*</c>) before anything is configured from them: a value of the
/// wrong type, an address, port, URL, device or storage setting the silo cannot use stops it at start with an
/// <see cref="OptionsValidationException"/> that names each bad key and what it accepts. The settings configure Orleans
/// and Kestrel while the host is built, so they are checked when read, before the host starts. Secrets (the token, the
/// data-plane secret, connection strings) are never echoed.
/// </summary>
public sealed partial class UNetSiloOptionsValidator : IValidateOptions<UNetSiloOptions>
{
    /// <summary>The settings under <c>UNetCluster</c>, bound and checked; throws naming every bad key.</summary>
    public static UNetSiloOptions Read(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection(UNetSiloOptions.Section);
        var failures = new List<string>();
        CheckTypes(section, typeof(UNetSiloOptions), failures);
        var options = failures.Count == 0 ? section.Get<UNetSiloOptions>() ?? new UNetSiloOptions() : null;
        if (options is not null && new UNetSiloOptionsValidator().Validate(null, options) is { Failed: true } result)
        {
            failures.AddRange(result.Failures);
        }

        return failures.Count == 0 ? options! : throw new OptionsValidationException(UNetSiloOptions.Section, typeof(UNetSiloOptions), failures);
    }

    public ValidateOptionsResult Validate(string? name, UNetSiloOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        void Check(bool ok, string key, string message)
        {
            if (!ok)
            {
                failures.Add($"{UNetSiloOptions.Section}:{key}: {message}");
            }
        }

        var cluster = options.Cluster;
        Check(!string.IsNullOrWhiteSpace(cluster.ClusterId), "Cluster:ClusterId", "is empty; expected the cluster's name, the same on every silo.");
        Check(!string.IsNullOrWhiteSpace(cluster.ServiceId), "Cluster:ServiceId", "is empty; expected the service's name, the same on every silo.");
        Check(cluster.SiloPort is > 0 and <= 65535, "Cluster:SiloPort", $"{cluster.SiloPort} is not a port; expected 1 to 65535.");
        Check(cluster.GatewayPort is > 0 and <= 65535, "Cluster:GatewayPort", $"{cluster.GatewayPort} is not a port; expected 1 to 65535.");
        Check(cluster.DataPort is >= 0 and <= 65535, "Cluster:DataPort", $"{cluster.DataPort} is not a port; expected 1 to 65535, or 0 for a free one.");
        Check(cluster.SiloPort != cluster.GatewayPort, "Cluster:GatewayPort", $"is the same port as UNetCluster:Cluster:SiloPort ({cluster.SiloPort}); each needs its own.");
        Check(IPAddress.TryParse(cluster.AdvertisedAddress, out _), "Cluster:AdvertisedAddress",
            $"'{cluster.AdvertisedAddress}' is not an IP address; expected the address other silos reach this one at, such as 10.1.2.3 (in Kubernetes, $(POD_IP)), not a host name.");
        Check(cluster.Clustering != ClusteringKind.Redis || !string.IsNullOrWhiteSpace(cluster.Redis), "Cluster:Redis",
            "is not set, but UNetCluster:Cluster:Clustering is Redis; expected a StackExchange.Redis connection string such as 127.0.0.1:6379.");
        Check(cluster.Redis is null || IsRedisConfiguration(cluster.Redis), "Cluster:Redis",
            "is not a StackExchange.Redis connection string; expected host:port[,option=value...], such as 127.0.0.1:6379 or redis:6379,password=...");
        Check(cluster.Clustering != ClusteringKind.AzureTable || string.IsNullOrWhiteSpace(cluster.AzureTable) != string.IsNullOrWhiteSpace(cluster.AzureTableUri), "Cluster:AzureTable",
            string.IsNullOrWhiteSpace(cluster.AzureTable)
                ? "is not set, nor UNetCluster:Cluster:AzureTableUri, but UNetCluster:Cluster:Clustering is AzureTable; expected an Azure Storage connection string (DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...;EndpointSuffix=core.windows.net, or Azurite's with a TableEndpoint), or the table service URI in UNetCluster:Cluster:AzureTableUri."
                : "and UNetCluster:Cluster:AzureTableUri are both set; expected one of them: a connection string, or the table service URI reached by Azure AD identity.");
        Check(cluster.AzureTable is null || IsTableConnectionString(cluster.AzureTable), "Cluster:AzureTable",
            "is not an Azure Storage connection string; expected DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...;EndpointSuffix=core.windows.net (or Azurite's development one with a TableEndpoint).");
        Check(cluster.AzureTableUri is null || AzureIdentity.IsServiceUri(cluster.AzureTableUri), "Cluster:AzureTableUri",
            $"'{WithoutQuery(cluster.AzureTableUri)}' is not a table service URI; expected https://<account>.table.core.windows.net (https: a token is never sent over plain http; no query string).");
        Check(TableName().IsMatch(cluster.AzureTableName), "Cluster:AzureTableName",
            $"'{cluster.AzureTableName}' is not a table name; expected 3 to 63 letters and digits, starting with a letter (default OrleansSiloInstances).");
        Check(cluster.ProbeTimeoutSeconds is > 0 and <= 3600, "Cluster:ProbeTimeoutSeconds", $"{cluster.ProbeTimeoutSeconds} is out of range; expected seconds above 0 (default 5).");
        Check(cluster.MissedProbesLimit is >= 1 and <= 100, "Cluster:MissedProbesLimit", $"{cluster.MissedProbesLimit} is out of range; expected 1 to 100 (default 3).");
        Check(cluster.ResponseTimeoutSeconds is > 0 and <= 86400, "Cluster:ResponseTimeoutSeconds", $"{cluster.ResponseTimeoutSeconds} is out of range; expected seconds above 0 (default 120).");

        var storage = options.Storage;
        Check(storage.Blob is null || IsBlobConnectionString(storage.Blob), "Storage:Blob",
            "is not an Azure Storage connection string; expected DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...;EndpointSuffix=core.windows.net (or Azurite's development one).");
        Check(storage.BlobUri is null || AzureIdentity.IsServiceUri(storage.BlobUri), "Storage:BlobUri",
            $"'{WithoutQuery(storage.BlobUri)}' is not a blob service URI; expected https://<account>.blob.core.windows.net (https: a token is never sent over plain http; no query string: a SAS goes in UNetCluster:Storage:Blob).");
        Check(string.IsNullOrWhiteSpace(storage.Blob) || string.IsNullOrWhiteSpace(storage.BlobUri), "Storage:BlobUri",
            "and UNetCluster:Storage:Blob are both set; expected one of them: a connection string, or the blob service URI reached by Azure AD identity.");
        Check(ContainerName().IsMatch(storage.Container), "Storage:Container",
            $"'{storage.Container}' is not a blob container name; expected 3 to 63 lower-case letters, digits and single hyphens, starting and ending with a letter or digit.");
        Check(storage.UsesAzure || !string.IsNullOrWhiteSpace(storage.Root), "Storage:Root", "is empty; expected a folder every silo shares (or set UNetCluster:Storage:Blob or BlobUri).");
        Check(storage.Checkpoints.Contains("{job}", StringComparison.Ordinal), "Storage:Checkpoints", $"'{storage.Checkpoints}' has no {{job}}; expected a path with the job id in it, such as jobs/{{job}}/checkpoints.");
        Check(storage.Latest.Contains("{job}", StringComparison.Ordinal), "Storage:Latest", $"'{storage.Latest}' has no {{job}}; expected a path with the job id in it, such as jobs/{{job}}/latest.");
        Check(storage.KeepLast >= 1, "Storage:KeepLast", $"{storage.KeepLast} is out of range; expected 1 or more checkpoints to keep.");

        Check(options.Data.MaxImagePixels is null or > 0, "Data:MaxImagePixels", $"{options.Data.MaxImagePixels} is out of range; expected a pixel count above 0.");
        Check(options.Worker.Threads >= 0, "Worker:Threads", $"{options.Worker.Threads} is out of range; expected 0 (one per processor) or more.");
        Check(ComputeDevice.IsName(options.Worker.Device), "Worker:Device", $"'{options.Worker.Device}' is not a device; expected {ComputeDevice.Accepted} (N a GPU index from 0).");

        var urls = options.Http.Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Check(urls.Length > 0, "Http:Urls", "is empty; expected one or more URLs to serve HTTP on, separated by ';', such as http://127.0.0.1:8080.");
        foreach (var url in urls.Where(u => !IsListenUrl(u)))
        {
            Check(false, "Http:Urls", $"'{url}' is not a URL Kestrel can listen on; expected http:// or https:// URLs with a host and port, separated by ';', such as http://127.0.0.1:8080 or http://0.0.0.0:8080.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>
    /// Values the binder could not convert to their setting's type ("abc" for a port, "yes" for a flag, an unknown
    /// clustering kind), each named with its key and what the type accepts, instead of the binder's first exception.
    /// </summary>
    private static void CheckTypes(IConfigurationSection section, Type type, List<string> failures)
    {
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite))
        {
            var target = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            var child = section.GetSection(property.Name);
            if (target.IsGenericType && target.GetGenericTypeDefinition() == typeof(Dictionary<,>))
            {
                foreach (var entry in child.GetChildren())
                {
                    CheckTypes(entry, target.GetGenericArguments()[1], failures);
                }
            }
            else if (target.IsClass && target != typeof(string))
            {
                CheckTypes(child, target, failures);
            }
            else if (child.Value is { Length: > 0 } value && !Converts(value, target))
            {
                failures.Add($"{child.Path}: '{value}' is not {Accepted(target)}.");
            }
        }
    }

    private static bool Converts(string value, Type type)
    {
        try
        {
            var converted = TypeDescriptor.GetConverter(type).ConvertFromInvariantString(value);
            return !type.IsEnum || Enum.IsDefined(type, converted!);
        }
        catch (Exception e) when (e is FormatException or ArgumentException or NotSupportedException or OverflowException || e.InnerException is FormatException or OverflowException)
        {
            return false;
        }
    }

    private static string Accepted(Type type) =>
        type == typeof(bool) ? "true or false"
        : type == typeof(int) || type == typeof(long) ? "an integer"
        : type == typeof(double) ? "a number (such as 2.5)"
        : type.IsEnum ? "one of " + string.Join(", ", Enum.GetNames(type))
        : "a " + type.Name;

    private static bool IsListenUrl(string url)
    {
        try
        {
            var address = BindingAddress.Parse(url);
            return address.Scheme is "http" or "https" && !string.IsNullOrEmpty(address.Host) && address.Port is >= 0 and <= 65535;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    private static bool IsRedisConfiguration(string configuration)
    {
        try
        {
            return StackExchange.Redis.ConfigurationOptions.Parse(configuration).EndPoints.Count > 0;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static bool IsBlobConnectionString(string connectionString)
    {
        try
        {
            _ = new BlobServiceClient(connectionString);   // parses only: nothing is sent
            return true;
        }
        catch (Exception e) when (e is FormatException or ArgumentException or InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>A URI as an error may show it: without its query (a SAS token is a secret) or fragment.</summary>
    private static string? WithoutQuery(string? uri) =>
        uri is null ? null : uri.IndexOfAny(['?', '#']) is var cut and >= 0 ? uri[..cut] + "?..." : uri;

    private static bool IsTableConnectionString(string connectionString)
    {
        try
        {
            _ = new Azure.Data.Tables.TableServiceClient(connectionString);   // parses only: nothing is sent
            return true;
        }
        catch (Exception e) when (e is FormatException or ArgumentException or InvalidOperationException)
        {
            return false;
        }
    }

    [GeneratedRegex("^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$")]
    private static partial Regex ContainerName();

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9]{2,62}$")]
    private static partial Regex TableName();
}
