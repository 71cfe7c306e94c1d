using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using UNetCluster.Model.Checkpoints;
using UNetCluster.Client.Commands;
using UNetCluster.Silo;
using UNetCluster.Silo.Dashboard;
using UNetCluster.Silo.Hosting;
using UNetCluster.Training.Checkpoints;
using UNetCluster.Training.Settings;

namespace UNetCluster.Client.Cluster;

/// <summary>
/// The embedded default: a single silo in this process, with localhost clustering on free loopback ports, running
/// the same grains as a real cluster; its co-hosted client is <see cref="Client"/>.
/// </summary>
internal sealed class EmbeddedCluster : IAsyncDisposable
{
    private readonly IHost _host;

    private EmbeddedCluster(IHost host, Uri? dashboard = null)
    {
        _host = host;
        Client = host.Services.GetRequiredService<IClusterClient>();
        Dashboard = dashboard;
    }

    public IClusterClient Client { get; }

    /// <summary>The dashboard's URL with its session key, when one was asked for.</summary>
    public Uri? Dashboard { get; }

    /// <summary>How many times <see cref="StartAsync"/> chooses the silo's ports before it gives up.</summary>
    internal const int PortAttempts = 3;

    /// <summary>
    /// Starts a silo whose storage root is <paramref name="storageRoot"/> and whose data sets are <paramref name="dataSets"/>;
    /// with <paramref name="dashboardPort"/> (0: a free port) it also serves the training dashboard on loopback
    /// (<see cref="EmbeddedDashboard"/>), every request authenticated by a new session key. The silo and gateway ports
    /// come from <paramref name="ports"/> (free loopback ports by default). A port found free can be taken before the
    /// silo binds it (any process's outbound connection may get it as its local port), so a silo that finds its port
    /// in use starts again on new ones, up to <see cref="PortAttempts"/> times.
    /// </summary>
    public static async Task<EmbeddedCluster> StartAsync(
        string storageRoot, string checkpoints, IReadOnlyDictionary<string, DataSetFolders> dataSets, long? maxImagePixels, WorkerSettings? worker,
        CancellationToken cancellationToken, int? dashboardPort = null, Func<int>? ports = null)
    {
        ports ??= FreePort;
        var storage = new StorageSettings { Root = storageRoot, Checkpoints = checkpoints, Latest = checkpoints + "/" + CheckpointStore.LatestPointer };
        var data = new DataSettings { DataSets = dataSets.ToDictionary(kv => kv.Key, kv => kv.Value), MaxImagePixels = maxImagePixels };
        for (var attempt = 1; ; attempt++)
        {
            var cluster = new ClusterSettings
            {
                ClusterId = "unet-embedded-" + Environment.ProcessId,
                ServiceId = "unet-embedded",
                Clustering = ClusteringKind.Localhost,
                SiloPort = ports(),
                GatewayPort = ports(),
            };
            try
            {
                return dashboardPort is { } port
                    ? await StartWithDashboardAsync(cluster, storage, data, worker, port, cancellationToken).ConfigureAwait(false)
                    : await StartSiloAsync(cluster, storage, data, worker, cancellationToken).ConfigureAwait(false);
            }
            catch (AddressInUseException) when (attempt < PortAttempts)
            {
                // The silo's or the gateway's port was taken between choosing and binding it: choose again.
            }
        }
    }

    private static async Task<EmbeddedCluster> StartSiloAsync(
        ClusterSettings cluster, StorageSettings storage, DataSettings data, WorkerSettings? worker, CancellationToken cancellationToken)
    {
        var builder = Host.CreateApplicationBuilder([]);
        builder.Logging.ClearProviders();
        builder.AddEmbeddedSilo(cluster, storage, data, worker);
        var host = builder.Build();
        try
        {
            await host.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            host.Dispose();
            throw;
        }

        return new EmbeddedCluster(host);
    }

    private static async Task<EmbeddedCluster> StartWithDashboardAsync(
        ClusterSettings cluster, StorageSettings storage, DataSettings data, WorkerSettings? worker, int port, CancellationToken cancellationToken)
    {
        var session = DashboardSession.CreateRandom();
        var web = EmbeddedDashboard.CreateBuilder(port, session);
        web.Logging.ClearProviders();   // no request is logged: the first URL carries the session key
        web.AddEmbeddedSilo(cluster, storage, data, worker);
        var app = web.Build();
        app.MapEmbeddedDashboard();
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            // Kestrel's bind failure: the dashboard's own port.
            await app.DisposeAsync().ConfigureAwait(false);
            throw new UserInputException($"--dashboard {port}: 127.0.0.1:{port} cannot be listened on ({e.Message}); expected a free port from 1 to 65535, or --dashboard alone for any free port.", e);
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return new EmbeddedCluster(app, new Uri(EmbeddedDashboard.Address(app), $"/?{DashboardSession.QueryName}={session.Key}"));
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _host.StopAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        finally
        {
            _host.Dispose();
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
