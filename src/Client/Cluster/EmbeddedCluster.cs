using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using UNetCluster.Model.Checkpoints;
using UNetCluster.Silo;
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

    private EmbeddedCluster(IHost host)
    {
        _host = host;
        Client = host.Services.GetRequiredService<IClusterClient>();
    }

    public IClusterClient Client { get; }

    /// <summary>Starts a silo whose storage root is <paramref name="storageRoot"/> and whose data sets are <paramref name="dataSets"/>.</summary>
    public static async Task<EmbeddedCluster> StartAsync(string storageRoot, string checkpoints, IReadOnlyDictionary<string, DataSetFolders> dataSets, long? maxImagePixels, WorkerSettings? worker, CancellationToken cancellationToken)
    {
        var cluster = new ClusterSettings
        {
            ClusterId = "unet-embedded-" + Environment.ProcessId,
            ServiceId = "unet-embedded",
            Clustering = ClusteringKind.Localhost,
            SiloPort = FreePort(),
            GatewayPort = FreePort(),
        };
        var storage = new StorageSettings { Root = storageRoot, Checkpoints = checkpoints, Latest = checkpoints + "/" + CheckpointStore.LatestPointer };
        var builder = Host.CreateApplicationBuilder([]);
        builder.Logging.ClearProviders();
        builder.AddEmbeddedSilo(cluster, storage, new DataSettings { DataSets = dataSets.ToDictionary(kv => kv.Key, kv => kv.Value), MaxImagePixels = maxImagePixels }, worker);
        var host = builder.Build();
        await host.StartAsync(cancellationToken).ConfigureAwait(false);
        return new EmbeddedCluster(host);
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
