using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using UNetCluster.Contracts.Grains;
using UNetCluster.Contracts.Messages;
using UNetCluster.Training.Settings;

namespace UNetCluster.Training.Transport;

/// <summary>
/// The silo's end of the data plane: a TCP listener that takes gradient buckets for, and serves vector buckets of, the
/// reducer grains on this silo, so that those bytes go between a socket and an array in large reads and writes
/// instead of through Orleans' message path (which receives in 4 KiB blocks and deserialises into a new array per
/// bucket). It only carries bytes: every request becomes a local call of the reducer grain, whose turn keeps the
/// step protocol (ordering, staleness, applying once) exactly as with a message. A frame cut off by a dead peer is
/// never handed on.
/// </summary>
public sealed partial class DataPlaneServer(IGrainFactory grains, ILocalSiloDetails silo, ClusterSettings cluster, ILogger<DataPlaneServer> logger)
    : IHostedService, IDisposable
{
    private readonly ExactSizeArrayPool _pool = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly ClusterSettings _cluster = cluster;
    private Socket? _listener;
    private Task _accepting = Task.CompletedTask;
    private int _port;

    /// <summary>Where other silos reach this one's data plane (<c>address:port</c>), or null when it is off or not started.</summary>
    public string? Endpoint => _port == 0 ? null : new IPEndPoint(silo.SiloAddress.Endpoint.Address, _port).ToString();

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!_cluster.DataPlane)
        {
            return Task.CompletedTask;
        }

        var address = _cluster.Kubernetes ? IPAddress.Any : IPAddress.Parse(_cluster.AdvertisedAddress);
        var listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(new IPEndPoint(address, _cluster.DataPort));
            listener.Listen(64);
        }
        catch (SocketException e)
        {
            listener.Dispose();
            throw new InvalidOperationException(
                $"The data plane cannot listen on {address}:{_cluster.DataPort} (UNetCluster:Cluster:DataPort; 0 picks a free port): {e.Message}", e);
        }

        _listener = listener;
        _port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        LogListening(Endpoint!);
        _accepting = AcceptAsync(listener);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _port = 0;
        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener?.Dispose();
        await _accepting.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public void Dispose()
    {
        _listener?.Dispose();
        _stopping.Dispose();
    }

    private async Task AcceptAsync(Socket listener)
    {
        var connections = new List<Task>();
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException && _stopping.IsCancellationRequested)
            {
                break;
            }
            catch (SocketException e)
            {
                LogAcceptFailed(e.Message);   // out of descriptors, say: keep listening
                await Task.Delay(100).ConfigureAwait(false);
                continue;
            }

            socket.NoDelay = true;
            connections.RemoveAll(c => c.IsCompleted);
            connections.Add(ServeAsync(socket));
        }

        await Task.WhenAll(connections).ConfigureAwait(false);
    }

    private async Task ServeAsync(Socket socket)
    {
        await Task.Yield();
        var peer = socket.RemoteEndPoint?.ToString() ?? "?";
        using var stream = new NetworkStream(socket, ownsSocket: true);
        var scratch = new byte[DataPlaneFrames.MaxMessageBytes + 64];   // the longest of a key, a name and an error message
        try
        {
            while (!_stopping.IsCancellationRequested)
            {
                // Waiting for the next request has no time limit (a worker keeps its connections); a frame, once begun,
                // must arrive within the response timeout.
                if (await stream.ReadAtLeastAsync(scratch.AsMemory(0, 7), 7, throwOnEndOfStream: false, _stopping.Token).ConfigureAwait(false) < 7)
                {
                    return;   // the peer closed between requests
                }

                using var frame = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
                frame.CancelAfter(TimeSpan.FromSeconds(_cluster.ResponseTimeoutSeconds));
                await ServeRequestAsync(stream, scratch, frame.Token).ConfigureAwait(false);
            }
        }
        catch (InvalidDataException e)
        {
            // A malformed request (not what a worker sends): refused with what was wrong, and the connection closed.
            LogRefused(e.Message);
            try
            {
                var message = $"The data plane of silo {silo.SiloAddress} refused a request. {e.Message}";
                await RespondErrorAsync(stream, scratch, message, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
                await CloseAfterRefusalAsync(stream, scratch).ConfigureAwait(false);
            }
            catch (Exception failed) when (failed is IOException or SocketException or TimeoutException or ObjectDisposedException)
            {
                // The connection closes either way.
            }
        }
        catch (Exception e)
        {
            // The peer died or stalled, or the silo stops: what it was sending is dropped whole.
            if (!_stopping.IsCancellationRequested)
            {
                LogConnectionLost(peer, e.Message);
            }
        }
    }

    /// <summary>Serves one request whose first 7 bytes are in <paramref name="scratch"/>. Throws <see cref="InvalidDataException"/> for a malformed one.</summary>
    private async Task ServeRequestAsync(NetworkStream stream, byte[] scratch, CancellationToken cancellationToken)
    {
        var magic = BinaryPrimitives.ReadUInt32LittleEndian(scratch);
        var op = scratch[4];
        var keyLength = BinaryPrimitives.ReadUInt16LittleEndian(scratch.AsSpan(5));
        if (magic != DataPlaneFrames.Magic || op is not (DataPlaneFrames.GradientOp or DataPlaneFrames.PullOp) || keyLength > DataPlaneFrames.MaxKeyBytes)
        {
            throw new InvalidDataException($"It is not a data-plane request (magic {magic:x8}, op {op}, key of {keyLength} bytes).");
        }

        await DataPlaneFrames.ReadExactlyAsync(stream, scratch.AsMemory(0, keyLength), cancellationToken).ConfigureAwait(false);
        var key = Encoding.UTF8.GetString(scratch, 0, keyLength);
        if (!IsLocalReducer(key))
        {
            throw new InvalidDataException($"'{key}' is not the key of a reducer on silo {silo.SiloAddress}.");
        }

        var reducer = grains.GetGrain<IReducerGrain>(key);
        await (op == DataPlaneFrames.GradientOp
            ? ServeGradientAsync(stream, scratch, reducer, cancellationToken)
            : ServePullAsync(stream, scratch, reducer, cancellationToken)).ConfigureAwait(false);
    }

    private async Task ServeGradientAsync(NetworkStream stream, byte[] scratch, IReducerGrain reducer, CancellationToken cancellationToken)
    {
        await DataPlaneFrames.ReadExactlyAsync(stream, scratch.AsMemory(0, DataPlaneFrames.GradientFields), cancellationToken).ConfigureAwait(false);
        var (step, attempt, worker, samples, offset, count) = DataPlaneFrames.ReadGradientFields(scratch);
        if (count is < 0 or > DataPlaneFrames.MaxPayloadBytes || count % sizeof(float) != 0)
        {
            throw new InvalidDataException($"It carries a gradient bucket of {count} bytes; expected a multiple of 4 up to {DataPlaneFrames.MaxPayloadBytes}.");
        }

        var values = _pool.Rent(count);
        await DataPlaneFrames.ReadExactlyAsync(stream, values, cancellationToken).ConfigureAwait(false);
        ContributionOutcome outcome;
        try
        {
            // A local call: the immutable bucket is handed over, not copied, and the reducer copies the values out.
            outcome = await reducer.AddGradientAsync(new GradientBucket(step, attempt, worker, samples, offset, values)).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // The array is not given back: a call that failed (a timeout) may still run and read it.
            await RespondErrorAsync(stream, scratch, e.Message, cancellationToken).ConfigureAwait(false);
            return;
        }

        _pool.Return(values);
        scratch[0] = DataPlaneFrames.Ok;
        BinaryPrimitives.WriteInt32LittleEndian(scratch.AsSpan(1), (int)outcome);
        await stream.WriteAsync(scratch.AsMemory(0, 5), cancellationToken).ConfigureAwait(false);
    }

    private static async Task ServePullAsync(NetworkStream stream, byte[] scratch, IReducerGrain reducer, CancellationToken cancellationToken)
    {
        var name = await DataPlaneFrames.ReadStringAsync(stream, scratch, DataPlaneFrames.MaxNameBytes, "vector name", cancellationToken).ConfigureAwait(false);
        await DataPlaneFrames.ReadExactlyAsync(stream, scratch.AsMemory(0, DataPlaneFrames.PullFields), cancellationToken).ConfigureAwait(false);
        var (version, offset, count) = DataPlaneFrames.ReadPullFields(scratch);
        if (count is < 0 or > DataPlaneFrames.MaxPayloadBytes / sizeof(float))
        {
            throw new InvalidDataException($"It asks for a pull of {count} values; expected 0 to {DataPlaneFrames.MaxPayloadBytes / sizeof(float)}.");
        }

        VectorBucket? bucket;
        try
        {
            bucket = await reducer.GetBucketAsync(name, version, offset, count).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            await RespondErrorAsync(stream, scratch, e.Message, cancellationToken).ConfigureAwait(false);
            return;
        }

        if (bucket is null)
        {
            scratch[0] = DataPlaneFrames.NotYet;
            await stream.WriteAsync(scratch.AsMemory(0, 1), cancellationToken).ConfigureAwait(false);
            return;
        }

        // The reducer's kept array for this version (a local call does not copy it); it is not refilled before every
        // worker has pulled it (see ReducerGrain.ParameterBucket), so it can be written out after the turn.
        scratch[0] = DataPlaneFrames.Ok;
        BinaryPrimitives.WriteInt32LittleEndian(scratch.AsSpan(1), bucket.Values.Length);
        await stream.WriteAsync(scratch.AsMemory(0, 5), cancellationToken).ConfigureAwait(false);
        await stream.WriteAsync(bucket.Values, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Closes a connection after refusing a request without leaving the rest of the request unread, which would make
    /// the kernel reset the connection and could drop the error response before the peer reads it: ends this side,
    /// then discards what still comes until the peer closes (at most a second and 1 MiB).
    /// </summary>
    private static async Task CloseAfterRefusalAsync(NetworkStream stream, byte[] scratch)
    {
        stream.Socket.Shutdown(SocketShutdown.Send);
        using var linger = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        try
        {
            for (var discarded = 0; discarded < 1 << 20;)
            {
                var read = await stream.ReadAsync(scratch, linger.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    return;
                }

                discarded += read;
            }
        }
        catch (OperationCanceledException)
        {
            // The peer kept the connection open: close it anyway.
        }
    }

    private bool IsLocalReducer(string key)
    {
        try
        {
            return SiloKeys.SiloOf(key).Equals(silo.SiloAddress);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or IndexOutOfRangeException)
        {
            return false;
        }
    }

    private static async Task RespondErrorAsync(NetworkStream stream, byte[] scratch, string message, CancellationToken cancellationToken)
    {
        var text = message.Length > 1000 ? message[..1000] : message;
        scratch[0] = DataPlaneFrames.Error;
        var length = DataPlaneFrames.WriteString(scratch.AsSpan(1), text);
        await stream.WriteAsync(scratch.AsMemory(0, 1 + length), cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Data plane listening on {Endpoint}")]
    private partial void LogListening(string endpoint);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Data plane connection from {Peer} lost; a frame it was sending, if any, was dropped whole: {Reason}")]
    private partial void LogConnectionLost(string peer, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Data plane could not accept a connection: {Reason}")]
    private partial void LogAcceptFailed(string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Data plane refused a request: {What}")]
    private partial void LogRefused(string what);
}
