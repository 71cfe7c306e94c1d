using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using UNetCluster.Client.Cluster;
using UNetCluster.Contracts.Grains;
using UNetCluster.Tests.Common;
using UNetCluster.Training.Settings;

namespace UNetCluster.Client.Tests;

/// <summary>The in-process silo of <c>unet train</c>: its ports.</summary>
public sealed class EmbeddedClusterTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("unet-embedded-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task Start_SiloPortTakenBeforeTheSiloBindsIt_StartsOnNewPortsAndAnswers()
    {
        using var taken = Listen();
        var given = new Queue<int>([Port(taken), LoopbackPorts.Next(), LoopbackPorts.Next(), LoopbackPorts.Next()]);

        await using var cluster = await EmbeddedCluster.StartAsync(
            _root, "checkpoints", new Dictionary<string, DataSetFolders>(), null, null, TestContext.Current.CancellationToken, ports: given.Dequeue);

        Assert.Empty(given);   // the first pair was given up, the second bound
        Assert.Empty(await cluster.Client.GetGrain<IJobRegistryGrain>(0).ListAsync());
    }

    [Fact]
    public async Task Start_EveryPortChosenIsTaken_GivesUpAfterItsAttempts()
    {
        using var first = Listen();
        using var second = Listen();
        var calls = 0;

        await Assert.ThrowsAsync<AddressInUseException>(() => EmbeddedCluster.StartAsync(
            _root, "checkpoints", new Dictionary<string, DataSetFolders>(), null, null, TestContext.Current.CancellationToken,
            ports: () => Port(calls++ % 2 == 0 ? first : second)));

        Assert.Equal(2 * EmbeddedCluster.PortAttempts, calls);
    }

    private static TcpListener Listen()
    {
        var listener = new TcpListener(IPAddress.Loopback, LoopbackPorts.Next());
        listener.Start();
        return listener;
    }

    private static int Port(TcpListener listener) => ((IPEndPoint)listener.LocalEndpoint).Port;
}
