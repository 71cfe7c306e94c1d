using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Authentication;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Orleans.TestingHost;
using UNetCluster.Contracts.Grains;
using UNetCluster.Contracts.Jobs;
using UNetCluster.Contracts.Messages;
using UNetCluster.Training;
using UNetCluster.Training.Settings;
using UNetCluster.Training.Transport;

namespace UNetCluster.Silo.Tests.Grains;

/// <summary>
/// Who and what a silo's data plane serves, on a real (in-process) cluster: only peers that prove they hold the
/// cluster's secret, only reducers set up on the silo, and only the buckets their shard has. Whatever a stranger sends,
/// it is refused before any request of its is read, no grain is activated, and the silo holds no more memory.
/// </summary>
[Collection(ClusterTests.Name)]
public sealed class DataPlaneSecurityTests(ClusterFixture fixture)
{
    private const int Length = 3000;   // floats in the shard: one bucket of 12000 bytes

    private const int ClaimedBytes = 64 << 20;   // the most any frame may claim

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private IServiceProvider PrimaryServices => ((InProcessSiloHandle)fixture.Cluster.Primary!).SiloHost!.Services;

    private DataPlaneClient Client => PrimaryServices.GetRequiredService<DataPlaneClient>();

    /// <summary>The data plane of the silo the reducers live on.</summary>
    private DataPlaneServer Server => ((InProcessSiloHandle)fixture.Cluster.SecondarySilos[0]).SiloHost!.Services.GetRequiredService<DataPlaneServer>();

    private SiloAddress Remote => fixture.Cluster.SecondarySilos[0].SiloAddress;

    [Theory]
    [InlineData("no handshake")]
    [InlineData("wrong secret")]
    public async Task Connection_WithoutTheSecret_IsRefusedBeforeItsRequestAndActivatesNoGrain(string client)
    {
        var (reducer, key) = await SetUpReducerAsync($"stranger-{client.Replace(' ', '-')}");
        var madeUp = SiloKeys.Key($"made-up-{Guid.NewGuid():N}/0.0/0", Remote);
        var endpoint = Server.Endpoint!;

        foreach (var target in new[] { key, madeUp })
        {
            using var socket = await DataPlaneWire.OpenAsync(endpoint);
            var hello = await DataPlaneWire.ReceiveExactlyAsync(socket, DataPlaneHandshake.HelloBytes);
            byte[] answer = client == "wrong secret"
                ? DataPlaneHandshake.Answer(DataPlaneWire.Key("not-the-cluster-secret-" + Guid.NewGuid()), hello, endpoint)
                : [];

            // A well-formed gradient bucket that would apply the step, sent at once without waiting for a verdict.
            byte[] sent = [.. answer, .. DataPlaneWire.GradientHead(target, 0, Length * sizeof(float)), .. Values(1f)];
            await socket.SendAsync(sent, Token);

            var message = await DataPlaneWire.ReceiveErrorAndCloseAsync(socket);
            Assert.Contains("refused the connection: it did not prove that it knows the cluster's secret (UNetCluster:Cluster:DataPlaneSecret)", message, StringComparison.Ordinal);
        }

        Assert.Equal(0, (await reducer.GetStateAsync()).Version);   // the bucket was not handed on
        Assert.True(await IsActiveAsync(key));                       // (the check below can see a reducer)
        Assert.False(await IsActiveAsync(madeUp));                   // and no grain was activated for the made-up key
        Assert.Equal(ContributionOutcome.Accepted, await Client.AddGradientAsync(endpoint, key, Bucket(1f)));
        Assert.Equal(1, (await reducer.GetStateAsync()).Version);    // while the silo goes on serving its workers
    }

    [Fact]
    public async Task AddGradient_ClientWithAnotherSecret_FailsNamingTheSettingAndChangesNothing()
    {
        var (reducer, key) = await SetUpReducerAsync("other-secret");
        var endpoint = Server.Endpoint!;
        using var stranger = new DataPlaneClient(
            PrimaryServices.GetRequiredService<IGrainFactory>(), PrimaryServices.GetRequiredService<ILocalSiloDetails>(),
            new ClusterSettings(), DataPlaneWire.Key("another-cluster-secret-" + Guid.NewGuid()));

        var error = await Assert.ThrowsAsync<AuthenticationException>(() => stranger.AddGradientAsync(endpoint, key, Bucket(1f)));

        Assert.Contains("UNetCluster:Cluster:DataPlaneSecret", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(fixture.DataPlaneSecret, error.Message, StringComparison.Ordinal);
        Assert.Equal(0, (await reducer.GetStateAsync()).Version);
    }

    [Theory]
    [InlineData("gradient")]
    [InlineData("pull")]
    public async Task Request_MadeUpReducerKeyAfterTheHandshake_IsRefusedNamingWhyAndActivatesNothing(string request)
    {
        var madeUp = SiloKeys.Key($"made-up-{Guid.NewGuid():N}/0.0/0", Remote);
        byte[] frame = request == "gradient"
            ? [.. DataPlaneWire.GradientHead(madeUp, 0, Length * sizeof(float)), .. Values(1f)]
            : DataPlaneWire.PullRequest(madeUp, 0, Length);

        using (var socket = await DataPlaneWire.ConnectAsync(Server.Endpoint!, fixture.DataPlaneSecret))
        {
            await socket.SendAsync(frame, Token);
            var message = await DataPlaneWire.ReceiveErrorAndCloseAsync(socket);
            Assert.Contains($"No reducer '{madeUp}' is set up on silo {Remote}: it never was, or it has been released.", message, StringComparison.Ordinal);
        }

        Assert.False(Server.Serves(madeUp));
        Assert.False(await IsActiveAsync(madeUp));
    }

    [Fact]
    public async Task AddGradient_ReleasedReducer_IsRefusedAndItsBuffersAreLetGo()
    {
        const int length = Length - 1;   // a bucket size no other reducer of these tests has, so its pooled buffers are its own
        var (reducer, key) = await SetUpReducerAsync("released", length);
        var endpoint = Server.Endpoint!;
        var pooled = Server.PooledBytes;
        Assert.Equal(ContributionOutcome.Accepted, await Client.AddGradientAsync(endpoint, key, Bucket(1f, length)));
        Assert.Equal(pooled + (length * sizeof(float)), Server.PooledBytes);   // kept for the reducer's next step

        await reducer.ReleaseAsync();

        Assert.False(Server.Serves(key));
        Assert.Equal(pooled, Server.PooledBytes);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => Client.AddGradientAsync(endpoint, key, Bucket(1f, length)));
        Assert.Contains($"No reducer '{key}' is set up on silo", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0L, ClaimedBytes, "It carries a gradient bucket of 67108864 bytes at offset 0; reducer {key} takes 12000 there as Fp32.")]
    [InlineData(0L, 8, "It carries a gradient bucket of 8 bytes at offset 0; reducer {key} takes 12000 there as Fp32.")]
    [InlineData(1000L, 8000, "Reducer {key} has no bucket at offset 1000.")]
    public async Task AddGradient_NotABucketOfTheOpenShard_IsRefusedBeforeItsPayloadIsRead(long offset, int bytes, string expected)
    {
        var (reducer, key) = await SetUpReducerAsync("bounds");
        var allocated = GC.GetTotalAllocatedBytes(precise: true);

        using (var socket = await DataPlaneWire.ConnectAsync(Server.Endpoint!, fixture.DataPlaneSecret))
        {
            await socket.SendAsync(DataPlaneWire.GradientHead(key, offset, bytes), Token);   // the head only: the silo must not wait for the payload
            var message = await DataPlaneWire.ReceiveErrorAndCloseAsync(socket);
            Assert.Contains(expected.Replace("{key}", key, StringComparison.Ordinal), message, StringComparison.Ordinal);
        }

        var held = GC.GetTotalAllocatedBytes(precise: true) - allocated;
        Assert.True(held < 4 << 20, $"{held} bytes were allocated while refusing a frame");
        Assert.Equal(0, (await reducer.GetStateAsync()).Version);
    }

    /// <summary>
    /// What is measured: the bytes the whole test process allocated (GC.GetTotalAllocatedBytes, precise) while ten
    /// strangers connect, claim 64 MiB buckets or stall, and are closed; the data plane's pooled buffers; its open
    /// connections. Before the handshake a connection holds a 36-byte challenge and a 64-byte answer, so the
    /// allocations are the cluster's background over the 5 s handshake timeout (about 0.5 MiB here), where one accepted
    /// claim would be 64 MiB.
    /// </summary>
    [Fact]
    public async Task Connections_TenThatFailOrStallTheHandshake_LeaveTheSilosMemoryFlatAndAreClosed()
    {
        var (_, key) = await SetUpReducerAsync("hostile");
        var server = Server;
        var endpoint = server.Endpoint!;
        Assert.Equal(ContributionOutcome.Accepted, await Client.AddGradientAsync(endpoint, key, Bucket(1f)));   // a worker's pooled buffer and connection
        var (pooled, connections) = (server.PooledBytes, server.Connections);
        var allocated = GC.GetTotalAllocatedBytes(precise: true);
        var wrongKey = DataPlaneWire.Key("not-the-cluster-secret-" + Guid.NewGuid());
        string[] strangers = ["no handshake", "no handshake", "no handshake", "wrong secret", "wrong secret", "wrong secret", "silent", "silent", "half an answer", "half an answer"];

        var sockets = new List<Socket>();
        try
        {
            foreach (var stranger in strangers)
            {
                var socket = await DataPlaneWire.OpenAsync(endpoint);
                sockets.Add(socket);
                var hello = await DataPlaneWire.ReceiveExactlyAsync(socket, DataPlaneHandshake.HelloBytes);
                var claim = DataPlaneWire.GradientHead(key, 0, ClaimedBytes);
                byte[] sent = stranger switch
                {
                    "no handshake" => claim,
                    "wrong secret" => [.. DataPlaneHandshake.Answer(wrongKey, hello, endpoint), .. claim],
                    "half an answer" => DataPlaneHandshake.Answer(wrongKey, hello, endpoint)[..(DataPlaneHandshake.ProofBytes / 2)],
                    _ => [],
                };
                await socket.SendAsync(sent, Token);
            }

            // The silo closes every one: refused with an error at once, or without a word when the handshake times out.
            var answered = await Task.WhenAll(sockets.Select(s => DataPlaneWire.ReceiveToEndAsync(s)));
            foreach (var (bytes, stranger) in answered.Zip(strangers))
            {
                Assert.True(stranger is "silent" or "half an answer" ? bytes == 0 : bytes > 0, $"{stranger}: {bytes} bytes before the close");
            }
        }
        finally
        {
            sockets.ForEach(s => s.Dispose());
        }

        var during = GC.GetTotalAllocatedBytes(precise: true) - allocated;
        Assert.True(during < 8 << 20, $"{during} bytes were allocated while ten strangers claimed 64 MiB each");
        Assert.Equal(pooled, server.PooledBytes);
        for (var wait = 0; server.Connections > connections && wait < 100; wait++)
        {
            await Task.Delay(50, Token);   // each connection's task ends just after its socket is closed
        }

        Assert.True(server.Connections <= connections, $"{server.Connections} connections still open, {connections} before");
    }

    /// <summary>A reducer of <paramref name="length"/> floats (one bucket) on the remote silo, with step 0 open for one worker.</summary>
    private async Task<(IReducerGrain Reducer, string Key)> SetUpReducerAsync(string job, int length = Length)
    {
        var key = SiloKeys.Key($"{job}-{Guid.NewGuid():N}/0.0/0", Remote);
        var reducer = fixture.Cluster.GrainFactory.GetGrain<IReducerGrain>(key);
        await reducer.SetupAsync(new ReducerSetup(job, new JobSpec { Optimizer = "adam" }, 0, 0, length, 0, 0));
        await reducer.OpenStepAsync(0, 0, 1, 0.01);
        return (reducer, key);
    }

    /// <summary>Whether any silo has an activation of the reducer grain <paramref name="key"/> (asking does not activate it).</summary>
    private async Task<bool> IsActiveAsync(string key)
    {
        var type = fixture.Cluster.GrainFactory.GetGrain<IReducerGrain>(key).GetGrainId().Type;
        var active = await fixture.Cluster.GrainFactory.GetGrain<IManagementGrain>(0).GetActiveGrains(type);
        return active.Any(id => id.Key.ToString() == key);
    }

    private static byte[] Values(float value, int length = Length) => MemoryMarshal.AsBytes(Enumerable.Repeat(value, length).ToArray().AsSpan()).ToArray();

    private static GradientBucket Bucket(float value, int length = Length) => new(0, 0, 0, 1, 0, Values(value, length));
}
