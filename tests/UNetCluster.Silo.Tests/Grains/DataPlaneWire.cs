using UNetCluster.Contracts.Messages;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using UNetCluster.Training.Settings;
using UNetCluster.Training.Transport;

namespace UNetCluster.Silo.Tests.Grains;

/// <summary>Raw sockets on a silo's data plane, for tests that speak its wire format by hand (DataPlaneFrames, DataPlaneHandshake).</summary>
internal static class DataPlaneWire
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    /// <summary>A connection that has not said anything yet.</summary>
    public static async Task<Socket> OpenAsync(string endpoint)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(IPEndPoint.Parse(endpoint), Token);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>A connection that has passed the handshake with <paramref name="secret"/>, as a worker's does.</summary>
    public static async Task<Socket> ConnectAsync(string endpoint, string secret)
    {
        var socket = await OpenAsync(endpoint);
        try
        {
            using var stream = new NetworkStream(socket, ownsSocket: false);
            await DataPlaneHandshake.AuthenticateAsync(stream, Key(secret), endpoint, Token);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public static DataPlaneKey Key(string secret) => new(new ClusterSettings { DataPlaneSecret = secret });

    /// <summary>A gradient request's head (no payload) for step 0 from worker 0 of 1.</summary>
    public static byte[] GradientHead(string key, long offset, int bytes, WireFormat format = WireFormat.Fp32)
    {
        var head = new byte[DataPlaneFrames.MaxKeyBytes + 64];
        return head[..DataPlaneFrames.WriteGradientRequest(head, key, new(Step: 0, Attempt: 0, Worker: 0, Samples: 1, Offset: offset, Format: format, Bytes: bytes))];
    }

    public static byte[] PullRequest(string key, long offset, int count, WireFormat format = WireFormat.Fp32)
    {
        var head = new byte[DataPlaneFrames.MaxMessageBytes];
        return head[..DataPlaneFrames.WritePullRequest(head, key, "parameters", new(Version: 0, Offset: offset, Count: count, Format: format))];
    }

    public static async Task<byte[]> ReceiveExactlyAsync(Socket socket, int count)
    {
        var buffer = new byte[count];
        for (var at = 0; at < count;)
        {
            var read = await socket.ReceiveAsync(buffer.AsMemory(at), Token);
            if (read == 0)
            {
                throw new EndOfStreamException($"The silo closed the connection after {at} of {count} bytes.");
            }

            at += read;
        }

        return buffer;
    }

    /// <summary>Reads until the server closes the connection; the bytes read (as many as fit in <paramref name="into"/>).</summary>
    public static async Task<int> ReceiveToEndAsync(Socket socket, byte[]? into = null)
    {
        into ??= new byte[1024];
        var total = 0;
        while (true)
        {
            var read = await socket.ReceiveAsync(into.AsMemory(Math.Min(total, into.Length - 1)), Token);
            if (read == 0)
            {
                return total;
            }

            total += read;
        }
    }

    /// <summary>Reads the server's answer to the end: it must be one error response, and then the connection closed; its message.</summary>
    public static async Task<string> ReceiveErrorAndCloseAsync(Socket socket)
    {
        var answer = new byte[8192];
        var read = await ReceiveToEndAsync(socket, answer);
        Assert.True(read >= 3, $"the silo answered {read} bytes");
        Assert.Equal(DataPlaneFrames.Error, answer[0]);
        var length = BinaryPrimitives.ReadUInt16LittleEndian(answer.AsSpan(1));
        Assert.Equal(3 + length, read);   // nothing else, and then it closed the connection
        return Encoding.UTF8.GetString(answer, 3, length);
    }
}
