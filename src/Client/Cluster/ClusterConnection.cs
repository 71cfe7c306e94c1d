using System.Net;
using Azure.Data.Tables;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using StackExchange.Redis;
using UNetCluster.Client.Commands;
using UNetCluster.Data.Storage;
using UNetCluster.Silo.Hosting;

namespace UNetCluster.Client.Cluster;

/// <summary>How the CLI reaches a running cluster: through a gateway address, or the silos' membership in Redis or an Azure Storage table.</summary>
internal sealed record ClusterAddress(string? Gateway, string? Redis, string ClusterId)
{
    public const string DefaultGateway = "127.0.0.1:30000";

    public const string DefaultAzureTableName = "OrleansSiloInstances";

    /// <summary>The storage account holding the membership table: a connection string, or the table service's https URI (Azure AD identity).</summary>
    public string? AzureTable { get; init; }

    /// <summary>The membership table's name, as the silos' <c>UNetCluster:Cluster:AzureTableName</c>.</summary>
    public string AzureTableName { get; init; } = DefaultAzureTableName;

    // Connection strings are never shown (they hold keys or passwords): only the URI of a table service is.
    public string Describe() =>
        AzureTable is not null ? $"the cluster '{ClusterId}' in the Azure table {AzureTableName} of {(IsTableUri(AzureTable) ? AzureTable : "--azure-table's storage account")}"
        : Redis is not null ? $"the cluster '{ClusterId}' in Redis at {Redis}" : $"the gateway {Gateway ?? DefaultGateway}";

    /// <summary>A value of --azure-table that is the table service's URI rather than a connection string.</summary>
    public static bool IsTableUri(string value) => AzureIdentity.IsServiceUriNotConnectionString(value);

    /// <summary>The membership table's service client; a malformed value is refused naming the option.</summary>
    public TableServiceClient MembershipTable()
    {
        var value = AzureTable ?? throw new InvalidOperationException("No --azure-table was given.");
        try
        {
            return IsTableUri(value)
                ? SiloHostingExtensions.MembershipTable(new Uri(value))
                : SiloHostingExtensions.MembershipTable(value);
        }
        catch (Exception e) when (e is FormatException or ArgumentException or InvalidOperationException)
        {
            throw new UserInputException(
                "--azure-table is invalid: expected an Azure Storage connection string (DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...;EndpointSuffix=core.windows.net, " +
                "or Azurite's with a TableEndpoint) or a table service URI such as https://<account>.table.core.windows.net.", e);
        }
    }

    /// <summary>The gateway's endpoint; a malformed one is refused naming the option.</summary>
    public IPEndPoint GatewayEndPoint()
    {
        var text = Gateway ?? DefaultGateway;
        if (!IPEndPoint.TryParse(text, out var endpoint) || endpoint.Port == 0)
        {
            throw new UserInputException($"--gateway '{text}' is invalid: expected an IP address and port such as {DefaultGateway}.");
        }

        return endpoint;
    }
}

/// <summary>An Orleans client connected to a running cluster; disposing it disconnects.</summary>
internal sealed class ClusterConnection : IAsyncDisposable
{
    private readonly IHost _host;

    private ClusterConnection(IHost host)
    {
        _host = host;
        Client = host.Services.GetRequiredService<IClusterClient>();
    }

    public IClusterClient Client { get; }

    public static async Task<ClusterConnection> ConnectAsync(ClusterAddress address, CancellationToken cancellationToken)
    {
        var tables = address.AzureTable is null ? null : address.MembershipTable();
        var gateway = address.Redis is null && tables is null ? address.GatewayEndPoint() : null;
        var builder = Host.CreateApplicationBuilder([]);
        builder.Logging.ClearProviders();
        builder.AddUNetClientTelemetry();
        builder.UseOrleansClient(client =>
        {
            client.AddActivityPropagation();
            client.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = address.ClusterId;
                o.ServiceId = address.ClusterId;
            });
            if (tables is not null)
            {
                client.UseAzureStorageClustering(o =>
                {
                    o.TableServiceClient = tables;
                    o.TableName = address.AzureTableName;
                });
            }
            else if (address.Redis is { } redis)
            {
                client.UseRedisClustering(o => o.ConfigurationOptions = ConfigurationOptions.Parse(redis));
            }
            else
            {
                client.UseStaticClustering(gateway!);
            }

            client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(5));
        });
        var host = builder.Build();
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(30));
            await host.StartAsync(timeout.Token).ConfigureAwait(false);
            return new ClusterConnection(host);
        }
        catch (Exception e) when (e is OrleansException or OperationCanceledException or RedisException or SiloUnavailableException or TimeoutException or Azure.RequestFailedException)
        {
            host.Dispose();
            throw new ClusterUnreachableException(
                $"Cannot reach {address.Describe()}: {e.Message.Split('\n')[0]} Start the silos (src/Silo), or pass --gateway, --redis or --azure-table (or set UNET_GATEWAY / UNET_REDIS / UNET_AZURE_TABLE), or --api URL for a silo's REST API.", e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _host.StopAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        finally
        {
            _host.Dispose();
        }
    }
}
