using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Orleans.TestingHost;
using UNetCluster.Contracts.Grains;
using UNetCluster.Contracts.Jobs;
using UNetCluster.Contracts.Messages;
using UNetCluster.Model.Distributed;
using UNetCluster.Training;
using UNetCluster.Training.Transport;

namespace UNetCluster.Silo.Tests.Grains;

/// <summary>
/// The data plane between silos of a real (in-process) cluster: a bucket sent or pulled through it does to a reducer
/// exactly what the grain message does, a bucket cut off by a dying connection is never handed on, and a malformed
/// request is refused with an error that says what was wrong while the silo goes on serving.
/// </summary>
[Collection(ClusterTests.Name)]
public sealed class DataPlaneTests(ClusterFixture fixture)
{
    private const int Length = 3000;   // floats in the shard: one bucket

    private static readonly float[] Initial = [.. Enumerable.Range(0, Length).Select(i => MathF.Sin(i) * 0.1f)];

    private static readonly float[] Gradient = [.. Enumerable.Range(0, Length).Select(i => MathF.Cos(i * 0.7f))];

    private DataPlaneClient Client => ((InProcessSiloHandle)fixture.Cluster.Primary!).SiloHost!.Services.GetRequiredService<DataPlaneClient>();

    private SiloAddress Remote => fixture.Cluster.SecondarySilos[0].SiloAddress;

    [Fact]
    public async Task AddGradientAndPull_ThroughTheDataPlane_LeaveTheSameParametersAsGrainMessages()
    {
        var (viaMessages, messagesKey) = await SetUpReducerAsync("dataplane-messages");
        var (_, key) = await SetUpReducerAsync("dataplane-sockets");
        var endpoint = await Client.EndpointOfAsync(key);
        Assert.NotNull(endpoint);

        Assert.Equal(ContributionOutcome.Accepted, await viaMessages.AddGradientAsync(Bucket(Gradient)));
        Assert.Equal(ContributionOutcome.Accepted, await Client.AddGradientAsync(endpoint, key, Bucket(Gradient)));
        Assert.Equal(ContributionOutcome.AlreadyApplied, await Client.AddGradientAsync(endpoint, key, Bucket(Gradient)));

        var expected = MemoryMarshal.Cast<byte, float>((await viaMessages.GetBucketAsync(ShardReducer.ParametersName, 1, 0, Length))!.Values).ToArray();
        Assert.NotEqual(Initial, expected);   // the step moved them
        var pulled = new float[Length + 10];
        Assert.True(await Client.PullAsync(endpoint, key, ShardReducer.ParametersName, 1, 0, Length, pulled));
        Assert.Equal(expected, pulled[..Length]);
        Assert.All(pulled[Length..], v => Assert.Equal(0, v));   // nothing written past the bucket
        Assert.NotEqual(messagesKey, key);
    }

    [Fact]
    public async Task AddGradientAndPull_Bf16_HalveTheBytesAndEqualTheirFloat32Values()
    {
        // A gradient of bf16 values (what a bf16 backward pass makes) sent as float32 through a message and as bf16
        // through the data plane: the same step. Pulled as bf16: the bf16 rounding of the fp32 parameters.
        var representable = new float[Length];
        var narrow = new byte[Length * 2];
        BFloat16Values.Narrow(Gradient, narrow);
        BFloat16Values.Widen(narrow, representable);
        var (viaMessages, _) = await SetUpReducerAsync("dataplane-bf16-reference");
        var (reducer, key) = await SetUpReducerAsync("dataplane-bf16");
        var endpoint = (await Client.EndpointOfAsync(key))!;

        Assert.Equal(ContributionOutcome.Accepted, await viaMessages.AddGradientAsync(Bucket(representable)));
        Assert.Equal(ContributionOutcome.Accepted, await Client.AddGradientAsync(endpoint, key, new GradientBucket(0, 0, 0, 1, 0, narrow, WireFormat.Bf16)));

        var fp32 = (await viaMessages.GetBucketAsync(ShardReducer.ParametersName, 1, 0, Length))!.Values;
        Assert.Equal(fp32, (await reducer.GetBucketAsync(ShardReducer.ParametersName, 1, 0, Length))!.Values);
        var expected = new float[Length];
        var rounded = new byte[Length * 2];
        BFloat16Values.Narrow(MemoryMarshal.Cast<byte, float>(fp32), rounded);
        BFloat16Values.Widen(rounded, expected);
        var pulled = new float[Length];
        Assert.True(await Client.PullAsync(endpoint, key, ShardReducer.ParametersName, 1, 0, Length, pulled, WireFormat.Bf16));
        Assert.Equal(expected, pulled);
        Assert.NotEqual(MemoryMarshal.Cast<byte, float>(fp32).ToArray(), pulled);   // the masters keep more than bf16 holds
        var asMessage = (await reducer.GetBucketAsync(ShardReducer.ParametersName, 1, 0, Length, WireFormat.Bf16))!;
        Assert.Equal((WireFormat.Bf16, Length * 2), (asMessage.Format, asMessage.Values.Length));
        Assert.Equal(rounded, asMessage.Values);
        await Assert.ThrowsAsync<ArgumentException>(() => reducer.GetBucketAsync("exp_avg", 1, 0, Length, WireFormat.Bf16));   // optimizer state only as float32
    }

    [Fact]
    public async Task Pull_VersionNotReached_IsNotYet_TheVersionJustAppliedStillServed_AndOlderThrowsTheReducersError()
    {
        var (reducer, key) = await SetUpReducerAsync("dataplane-versions");
        var endpoint = (await Client.EndpointOfAsync(key))!;
        var destination = new float[Length];

        Assert.False(await Client.PullAsync(endpoint, key, ShardReducer.ParametersName, 1, 0, Length, destination));
        Assert.All(destination, v => Assert.Equal(0, v));
        Assert.Equal(ContributionOutcome.Accepted, await Client.AddGradientAsync(endpoint, key, Bucket(Gradient)));
        Assert.True(await Client.PullAsync(endpoint, key, ShardReducer.ParametersName, 0, 0, Length, destination));   // kept for a recomputed step
        Assert.Equal(Initial, destination);
        Assert.True(await Client.PullAsync(endpoint, key, ShardReducer.ParametersName, 1, 0, Length, destination));
        Assert.NotEqual(Initial, destination);

        await reducer.OpenStepAsync(1, 0, 1, 0.01);
        Assert.Equal(ContributionOutcome.Accepted, await Client.AddGradientAsync(endpoint, key, Bucket(Gradient) with { Step = 1 }));
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => Client.PullAsync(endpoint, key, ShardReducer.ParametersName, 0, 0, Length, destination));
        Assert.Contains("step 0 is gone", error.Message, StringComparison.Ordinal);
        Assert.True(await Client.PullAsync(endpoint, key, ShardReducer.ParametersName, 2, 0, Length, destination));
    }

    [Fact]
    public async Task AddGradient_ConnectionCutMidBucket_DropsTheBucketAndTheNextOneApplies()
    {
        var (reference, _) = await SetUpReducerAsync("dataplane-cut-reference");
        var (reducer, key) = await SetUpReducerAsync("dataplane-cut");
        var endpoint = (await Client.EndpointOfAsync(key))!;

        // Half of a bucket that, if handed on, would complete the shard and apply the step.
        using (var socket = await ConnectAsync(endpoint))
        {
            var frame = GradientFrame(key, Length * sizeof(float));
            await socket.SendAsync(frame.AsMemory(0, frame.Length - (Length * sizeof(float) / 2)), TestContext.Current.CancellationToken);
            socket.Shutdown(SocketShutdown.Send);
            Assert.Equal(0, await ReceiveToEndAsync(socket));   // the server closed it: it is done with the frame
        }

        Assert.Null(await reducer.GetBucketAsync(ShardReducer.ParametersName, 1, 0, Length));
        Assert.Equal(0, (await reducer.GetStateAsync()).Version);

        Assert.Equal(ContributionOutcome.Accepted, await Client.AddGradientAsync(endpoint, key, Bucket(Gradient)));
        Assert.Equal(ContributionOutcome.Accepted, await reference.AddGradientAsync(Bucket(Gradient)));
        Assert.Equal(
            (await reference.GetBucketAsync(ShardReducer.ParametersName, 1, 0, Length))!.Values,
            (await reducer.GetBucketAsync(ShardReducer.ParametersName, 1, 0, Length))!.Values);
    }

    [Theory]
    [InlineData("magic", "not a data-plane request")]
    [InlineData("length", "a gradient bucket of 67108868 bytes; expected a multiple of 4 (Fp32) up to 67108864")]
    [InlineData("format", "value format is 7; expected 0 (float32) or 1 (bfloat16)")]
    [InlineData("bf16-size", "a gradient bucket of 12000 bytes at offset 0; reducer")]
    [InlineData("silo", "is not the key of a reducer on silo")]
    [InlineData("name", "vector name is 200 bytes long; at most 128 are accepted")]
    public async Task Request_Malformed_IsRefusedNamingWhatWasWrongAndTheSiloGoesOnServing(string fault, string expected)
    {
        var (reducer, key) = await SetUpReducerAsync($"dataplane-malformed-{fault}");
        var endpoint = (await Client.EndpointOfAsync(key))!;
        var frame = fault switch
        {
            "magic" => [.. Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\n\r\n")],
            "length" => GradientFrame(key, (64 << 20) + 4)[..^((64 << 20) + 4)],
            "silo" => GradientFrame(SiloKeys.Key("dataplane-malformed/0.0/0", fixture.Cluster.Primary!.SiloAddress), 8),
            "format" => GradientFrame(key, Length * sizeof(float), (WireFormat)7),
            "bf16-size" => GradientFrame(key, Length * sizeof(float), WireFormat.Bf16),   // float32 bytes labelled bf16
            _ => PullFrame(key, new string('p', 200)),
        };

        using (var socket = await ConnectAsync(endpoint))
        {
            await socket.SendAsync(frame, TestContext.Current.CancellationToken);
            var answer = new byte[8192];
            var read = await ReceiveToEndAsync(socket, answer);
            Assert.Equal(DataPlaneFrames.Error, answer[0]);
            var message = Encoding.UTF8.GetString(answer, 3, BinaryPrimitives.ReadUInt16LittleEndian(answer.AsSpan(1)));
            Assert.Contains(expected, message, StringComparison.Ordinal);
            Assert.Equal(3 + message.Length, read);   // and then it closed the connection
        }

        Assert.Equal(0, (await reducer.GetStateAsync()).Version);
        Assert.Equal(ContributionOutcome.Accepted, await Client.AddGradientAsync(endpoint, key, Bucket(Gradient)));
        Assert.Equal(1, (await reducer.GetStateAsync()).Version);
    }

    private async Task<(IReducerGrain Reducer, string Key)> SetUpReducerAsync(string job)
    {
        var key = SiloKeys.Key($"{job}-{Guid.NewGuid():N}/0.0/0", Remote);
        var reducer = fixture.Cluster.GrainFactory.GetGrain<IReducerGrain>(key);
        await reducer.SetupAsync(new ReducerSetup(job, new JobSpec { Optimizer = "adam" }, 0, 0, Length, 0, 0));
        await reducer.LoadAsync(new VectorBucket(ShardReducer.ParametersName, 0, 0, MemoryMarshal.AsBytes(Initial.AsSpan()).ToArray()));
        await reducer.OpenStepAsync(0, 0, 1, 0.01);
        return (reducer, key);
    }

    private static GradientBucket Bucket(float[] values) => new(0, 0, 0, 1, 0, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    /// <summary>A whole gradient request for step 0 from worker 0 of 1, with <paramref name="bytes"/> payload bytes of Gradient's pattern.</summary>
    private static byte[] GradientFrame(string key, int bytes, WireFormat format = WireFormat.Fp32)
    {
        var head = new byte[DataPlaneFrames.MaxKeyBytes + 64];
        var length = DataPlaneFrames.WriteGradientRequest(head, key, new(Step: 0, Attempt: 0, Worker: 0, Samples: 1, Offset: 0, Format: format, Bytes: bytes));
        var payload = new byte[bytes];
        var gradient = MemoryMarshal.AsBytes(Gradient.AsSpan());
        gradient[..Math.Min(bytes, gradient.Length)].CopyTo(payload);
        return [.. head.AsSpan(0, length), .. payload];
    }

    private static byte[] PullFrame(string key, string name)
    {
        var head = new byte[DataPlaneFrames.MaxMessageBytes];
        return head[..DataPlaneFrames.WritePullRequest(head, key, name, new(Version: 1, Offset: 0, Count: Length, Format: WireFormat.Fp32))];
    }

    /// <summary>A connection that has passed the handshake with the cluster's secret, as a worker's does.</summary>
    private Task<Socket> ConnectAsync(string endpoint) => DataPlaneWire.ConnectAsync(endpoint, fixture.DataPlaneSecret);

    /// <summary>Reads until the server closes the connection; the bytes read.</summary>
    private static Task<int> ReceiveToEndAsync(Socket socket, byte[]? into = null) => DataPlaneWire.ReceiveToEndAsync(socket, into);
}
