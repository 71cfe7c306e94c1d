using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using UNetCluster.Training.Settings;
using UNetCluster.Training.Transport;

namespace UNetCluster.Training.Tests.Transport;

/// <summary>
/// The data plane's handshake over a real loopback connection: both ends that hold the cluster's key go on; an end
/// without it is refused after its 64-byte answer, before anything it sends next is read; a proof is good for its
/// connection and its server only; and a server that does not hold the key is not trusted by the client.
/// </summary>
public sealed class DataPlaneHandshakeTests
{
    private const string Endpoint = "127.0.0.1:11112";

    private static readonly DataPlaneKey Key = KeyOf("the-cluster-secret-for-these-tests");

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Handshake_BothEndsHoldTheKey_BothGoOn()
    {
        using var pair = await Pair.OpenAsync();

        var accepting = DataPlaneHandshake.AcceptAsync(pair.Server, Key, Endpoint, Token);
        await DataPlaneHandshake.AuthenticateAsync(pair.Client, KeyOf("the-cluster-secret-for-these-tests"), Endpoint, Token);

        Assert.True(await accepting);
    }

    [Fact]
    public async Task AcceptAsync_AnswerUnderAnotherKey_IsFalseHavingReadOnlyTheAnswer()
    {
        using var pair = await Pair.OpenAsync();
        var accepting = DataPlaneHandshake.AcceptAsync(pair.Server, Key, Endpoint, Token);
        var hello = await ReadAsync(pair.Client, DataPlaneHandshake.HelloBytes);

        byte[] request = [1, 2, 3, 4, 5, 6, 7, 8];   // what a stranger sends on, without waiting
        byte[] sent = [.. DataPlaneHandshake.Answer(KeyOf("a-guessed-secret-of-16-characters"), hello, Endpoint), .. request];
        await pair.Client.WriteAsync(sent, Token);

        Assert.False(await accepting);
        Assert.Equal(request, await ReadAsync(pair.Server, request.Length));   // still unread: the server stopped at the answer
    }

    [Fact]
    public async Task AcceptAsync_AnswerReplayedOnAnotherConnection_IsFalse()
    {
        using var first = await Pair.OpenAsync();
        var accepting = DataPlaneHandshake.AcceptAsync(first.Server, Key, Endpoint, Token);
        var answer = DataPlaneHandshake.Answer(Key, await ReadAsync(first.Client, DataPlaneHandshake.HelloBytes), Endpoint);
        await first.Client.WriteAsync(answer, Token);
        Assert.True(await accepting);   // the answer was good where it was given

        using var second = await Pair.OpenAsync();
        var replayed = DataPlaneHandshake.AcceptAsync(second.Server, Key, Endpoint, Token);
        _ = await ReadAsync(second.Client, DataPlaneHandshake.HelloBytes);
        await second.Client.WriteAsync(answer, Token);

        Assert.False(await replayed);
    }

    [Fact]
    public async Task AcceptAsync_AnswerForAnotherSilosEndpoint_IsFalse()
    {
        using var pair = await Pair.OpenAsync();
        var accepting = DataPlaneHandshake.AcceptAsync(pair.Server, Key, Endpoint, Token);
        var hello = await ReadAsync(pair.Client, DataPlaneHandshake.HelloBytes);

        await pair.Client.WriteAsync(DataPlaneHandshake.Answer(Key, hello, "127.0.0.1:11113"), Token);

        Assert.False(await accepting);
    }

    [Fact]
    public async Task AuthenticateAsync_ServerWithoutTheKey_ThrowsNamingTheSetting()
    {
        using var pair = await Pair.OpenAsync();
        var impostor = Task.Run(async () =>
        {
            // It opens as a data plane does, takes any answer, and says Ok with a proof it cannot make.
            byte[] hello = [0x55, 0x44, 0x41, 0x31, .. new byte[DataPlaneHandshake.NonceBytes]];
            await pair.Server.WriteAsync(hello, Token);
            _ = await ReadAsync(pair.Server, DataPlaneHandshake.ProofBytes);
            await pair.Server.WriteAsync(new byte[1 + DataPlaneHandshake.MacBytes], Token);
        }, Token);

        var error = await Assert.ThrowsAsync<AuthenticationException>(() => DataPlaneHandshake.AuthenticateAsync(pair.Client, Key, Endpoint, Token));
        await impostor;

        Assert.Contains($"The data plane at {Endpoint} did not prove that it knows the cluster's secret", error.Message, StringComparison.Ordinal);
        Assert.Contains("UNetCluster:Cluster:DataPlaneSecret", error.Message, StringComparison.Ordinal);
    }

    private static DataPlaneKey KeyOf(string secret) => new(new ClusterSettings { DataPlaneSecret = secret });

    private static async Task<byte[]> ReadAsync(Stream stream, int count)
    {
        var buffer = new byte[count];
        await stream.ReadExactlyAsync(buffer, Token);
        return buffer;
    }

    /// <summary>Both ends of one loopback TCP connection.</summary>
    private sealed class Pair(NetworkStream server, NetworkStream client) : IDisposable
    {
        public NetworkStream Server { get; } = server;

        public NetworkStream Client { get; } = client;

        public static async Task<Pair> OpenAsync()
        {
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(1);
            var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await client.ConnectAsync(listener.LocalEndPoint!, Token);
            var server = await listener.AcceptAsync(Token);
            return new Pair(new NetworkStream(server, ownsSocket: true), new NetworkStream(client, ownsSocket: true));
        }

        public void Dispose()
        {
            Server.Dispose();
            Client.Dispose();
        }
    }
}
