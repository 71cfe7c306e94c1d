using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using StackExchange.Redis;
using UNetCluster.Client.Commands;

namespace UNetCluster.Client.Cluster;

/// <summary>How the CLI reaches a running cluster: through a gateway address, or the silos' Redis membership table.</summary>
internal sealed record ClusterAddress(string? Gateway, string? Redis, string ClusterId)
{
    public const string DefaultGateway = "127.0.0.1:30000";

    public string Describe() => Redis is not null ? $"the cluster '{ClusterId}' in Redis at {Redis}" : $"the gateway {Gateway ?? DefaultGateway}";

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
        var gateway = address.Redis is null ? address.GatewayEndPoint() : null;
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
            if (address.Redis is { } redis)
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
        catch (Exception e) when (e is OrleansException or OperationCanceledException or RedisException or SiloUnavailableException or TimeoutException)
        {
            host.Dispose();
            throw new ClusterUnreachableException(
                $"Cannot reach {address.Describe()}: {e.Message.Split('\n')[0]} Start the silos (src/Silo), or pass --gateway or --redis (or set UNET_GATEWAY / UNET_REDIS), or --api URL for a silo's REST API.", e);
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
