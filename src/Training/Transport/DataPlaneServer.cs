using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using UNetCluster.Contracts.Grains;
using UNetCluster.Contracts.Messages;
using UNetCluster.Model.Distributed;
using UNetCluster.Training.Settings;

namespace UNetCluster.Training.Transport;

/// <summary>
/// The silo's end of the data plane: a TCP listener that takes gradient buckets for, and serves vector buckets of, the
/// reducer grains on this silo, so that those bytes go between a socket and an array in large reads and writes
/// instead of through Orleans' message path (which receives in 4 KiB blocks and deserialises into a new array per
/// bucket). It only carries bytes: every request becomes a local call of the reducer grain, whose turn keeps the
/// step protocol (ordering, staleness, applying once) exactly as with a message. A frame cut off by a dead peer is
/// never handed on.
/// It serves only what it must, to whom it must: a connection is served once its peer has proved that it holds the
/// cluster's key (<see cref="DataPlaneHandshake"/>), and until then nothing else is read from it and it holds only
/// the handshake's hundred bytes; a request is served only for a reducer set up on this silo (<see cref="OpenReducer"/>) and a bucket of its
/// shard, checked before the payload is read, so a frame can make the silo hold at most one of its open buckets.
/// </summary>
public sealed partial class DataPlaneServer(IGrainFactory grains, ILocalSiloDetails silo, ClusterSettings cluster, DataPlaneKey clusterKey, ILogger<DataPlaneServer> logger)
    : IHostedService, IDisposable
{
    /// <summary>
    /// Connections that may be proving themselves at once (each for at most <see cref="DataPlaneHandshake.Timeout"/>);
    /// further ones wait in the listen backlog until one is done, rather than being turned away.
    /// </summary>
    public const int MaxPendingConnections = 64;

    /// <summary>Connections served at once (a worker keeps up to 8 per silo it sends to); further ones wait likewise.</summary>
    public const int MaxConnections = 1024;

    private readonly ExactSizeArrayPool _pool = new();
    private readonly OpenReducers _open = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly ClusterSettings _cluster = cluster;
    private readonly SemaphoreSlim _connectionSlots = new(MaxConnections, MaxConnections);   // taken by every open connection
    private readonly SemaphoreSlim _pendingSlots = new(MaxPendingConnections, MaxPendingConnections);   // and until it has proved itself
    private Socket? _listener;
    private Task _accepting = Task.CompletedTask;
    private string? _endpoint;
    private string _listeningAt = string.Empty;   // _endpoint while started, kept through stopping for the handshakes in flight
    private long _fullSince = -1;   // when accepting last had to wait for a slot (Environment.TickCount64), -1 if never

    /// <summary>Where other silos reach this one's data plane (<c>address:port</c>), or null when it is off or not started.</summary>
    public string? Endpoint => _endpoint;

    /// <summary>Bytes of gradient buffers kept for reuse.</summary>
    internal long PooledBytes => _pool.HeldBytes;

    /// <summary>Connections open now, authenticated or not.</summary>
    internal int Connections => MaxConnections - _connectionSlots.CurrentCount;

    /// <summary>Whether requests for reducer <paramref name="reducer"/> are served.</summary>
    internal bool Serves(string reducer) => _open.IsOpen(reducer);

    /// <summary>
    /// Serves reducer <paramref name="reducer"/> (a key of a grain on this silo) from now on: gradient buckets and pulls
    /// of exactly its shard's buckets of <paramref name="bucketBytes"/> (the job's bucket size). Its grain calls this
    /// once set up.
    /// </summary>
    public void OpenReducer(string reducer, ShardRange range, int bucketBytes) => _open.Open(reducer, range, bucketBytes);

    /// <summary>Refuses reducer <paramref name="reducer"/> from now on and lets go of buffers no open reducer needs.</summary>
    public void CloseReducer(string reducer)
    {
        _open.Close(reducer);
        _pool.Trim(_open.Expects);
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!_cluster.DataPlane)
        {
            return Task.CompletedTask;
        }

        // Only on the address the silo advertises (its pod IP in Kubernetes), which is where its peers are told to come.
        var address = silo.SiloAddress.Endpoint.Address;
        var listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(new IPEndPoint(address, _cluster.DataPort));
            listener.Listen(512);   // connections beyond the slots wait here
        }
        catch (SocketException e)
        {
            listener.Dispose();
            throw new InvalidOperationException(
                $"The data plane cannot listen on {address}:{_cluster.DataPort} (UNetCluster:Cluster:DataPort; 0 picks a free port): {e.Message}", e);
        }

        _listener = listener;
        _listeningAt = new IPEndPoint(address, ((IPEndPoint)listener.LocalEndPoint!).Port).ToString();
        _endpoint = _listeningAt;
        LogListening(_listeningAt);
        _accepting = AcceptAsync(listener);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _endpoint = null;
        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener?.Dispose();
        await _accepting.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public void Dispose()
    {
        _listener?.Dispose();
        _stopping.Dispose();
        _connectionSlots.Dispose();
        _pendingSlots.Dispose();
    }

    private async Task AcceptAsync(Socket listener)
    {
        var connections = new List<Task>();
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                await TakeSlotAsync(_connectionSlots).ConfigureAwait(false);
                try
                {
                    await TakeSlotAsync(_pendingSlots).ConfigureAwait(false);
                }
                catch
                {
                    _connectionSlots.Release();
                    throw;
                }

                try
                {
                    socket = await listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
                }
                catch
                {
                    _pendingSlots.Release();
                    _connectionSlots.Release();
                    throw;
                }
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

    /// <summary>Takes a slot, waiting for one when all are taken (with a warning at most every 10 s: a flood, or too small a limit).</summary>
    private async Task TakeSlotAsync(SemaphoreSlim slots)
    {
        if (slots.Wait(0))
        {
            return;
        }

        if (_fullSince < 0 || Environment.TickCount64 - _fullSince >= 10_000)
        {
            _fullSince = Environment.TickCount64;
            LogFull(MaxConnections, MaxPendingConnections);
        }

        await slots.WaitAsync(_stopping.Token).ConfigureAwait(false);
    }

    /// <summary>Serves one connection, holding its slots until it closes (and its pending slot until it has proved itself, or not).</summary>
    private async Task ServeAsync(Socket socket)
    {
        var (peer, pending) = ("?", true);
        try
        {
            await Task.Yield();
            peer = socket.RemoteEndPoint?.ToString() ?? "?";
            using var stream = new NetworkStream(socket, ownsSocket: true);
            var authenticated = await AuthenticateAsync(stream, peer).ConfigureAwait(false);
            pending = false;
            _pendingSlots.Release();
            if (authenticated)
            {
                await ServeRequestsAsync(stream, peer).ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            if (!_stopping.IsCancellationRequested)
            {
                LogConnectionLost(peer, e.Message);
            }
        }
        finally
        {
            socket.Dispose();
            if (pending)
            {
                _pendingSlots.Release();
            }

            _connectionSlots.Release();
        }
    }

    /// <summary>
    /// Runs the server's half of the handshake within <see cref="DataPlaneHandshake.Timeout"/>. A peer that does not
    /// prove it holds the key is refused and the connection closed: nothing it sent after its proof is read into
    /// anything but a small discard buffer, and no grain is called.
    /// </summary>
    private async Task<bool> AuthenticateAsync(NetworkStream stream, string peer)
    {
        using (var handshake = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token))
        {
            handshake.CancelAfter(DataPlaneHandshake.Timeout);
            try
            {
                if (await DataPlaneHandshake.AcceptAsync(stream, clusterKey, _listeningAt, handshake.Token).ConfigureAwait(false))
                {
                    return true;
                }
            }
            catch (Exception e) when (!_stopping.IsCancellationRequested && e is IOException or SocketException or OperationCanceledException)
            {
                LogUnauthenticated(peer, e is OperationCanceledException
                    ? $"it did not complete the handshake within {DataPlaneHandshake.Timeout.TotalSeconds} s"
                    : "it closed the connection during the handshake");
                return false;
            }
        }

        LogUnauthenticated(peer, "its proof does not match this silo's key");
        var refusal = $"The data plane of silo {silo.SiloAddress} refused the connection: it did not prove that it knows the cluster's secret ({DataPlaneKey.Setting}).";
        await RefuseAsync(stream, new byte[256], refusal).ConfigureAwait(false);
        return false;
    }

    private async Task ServeRequestsAsync(NetworkStream stream, string peer)
    {
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
            LogRefused(peer, e.Message);
            await RefuseAsync(stream, scratch, $"The data plane of silo {silo.SiloAddress} refused a request. {e.Message}").ConfigureAwait(false);
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

        // Checked here, not by the grain: calling a grain under a made-up key would activate it.
        if (!_open.IsOpen(key))
        {
            throw new InvalidDataException($"No reducer '{key}' is set up on silo {silo.SiloAddress}: it never was, or it has been released.");
        }

        await (op == DataPlaneFrames.GradientOp
            ? ServeGradientAsync(stream, scratch, key, cancellationToken)
            : ServePullAsync(stream, scratch, key, cancellationToken)).ConfigureAwait(false);
    }

    private async Task ServeGradientAsync(NetworkStream stream, byte[] scratch, string key, CancellationToken cancellationToken)
    {
        await DataPlaneFrames.ReadExactlyAsync(stream, scratch.AsMemory(0, DataPlaneFrames.GradientFields), cancellationToken).ConfigureAwait(false);
        var (step, attempt, worker, samples, offset, format, count) = DataPlaneFrames.ReadGradientFields(scratch);
        RequireKnown(format);
        if (count is < 0 or > DataPlaneFrames.MaxPayloadBytes || count % format.BytesPerValue() != 0)
        {
            throw new InvalidDataException(
                $"It carries a gradient bucket of {count} bytes; expected a multiple of {format.BytesPerValue()} ({format}) up to {DataPlaneFrames.MaxPayloadBytes}.");
        }

        var expected = BucketValues(key, offset) * format.BytesPerValue();
        if (count != expected)
        {
            throw new InvalidDataException($"It carries a gradient bucket of {count} bytes at offset {offset}; reducer {key} takes {expected} there as {format}.");
        }

        var reducer = grains.GetGrain<IReducerGrain>(key);
        var values = _pool.Rent(count);
        try
        {
            await DataPlaneFrames.ReadExactlyAsync(stream, values, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            _pool.Return(values);   // cut off: no one has seen it
            throw;
        }

        ContributionOutcome outcome;
        try
        {
            // A local call: the immutable bucket is handed over, not copied, and the reducer copies the values out.
            outcome = await reducer.AddGradientAsync(new GradientBucket(step, attempt, worker, samples, offset, values, format)).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // The array is not given back: a call that failed (a timeout) may still run and read it.
            await RespondErrorAsync(stream, scratch, e.Message, cancellationToken).ConfigureAwait(false);
            return;
        }

        if (_open.Expects(values.Length))
        {
            _pool.Return(values);
        }

        scratch[0] = DataPlaneFrames.Ok;
        BinaryPrimitives.WriteInt32LittleEndian(scratch.AsSpan(1), (int)outcome);
        await stream.WriteAsync(scratch.AsMemory(0, 5), cancellationToken).ConfigureAwait(false);
    }

    private async Task ServePullAsync(NetworkStream stream, byte[] scratch, string key, CancellationToken cancellationToken)
    {
        var name = await DataPlaneFrames.ReadStringAsync(stream, scratch, DataPlaneFrames.MaxNameBytes, "vector name", cancellationToken).ConfigureAwait(false);
        await DataPlaneFrames.ReadExactlyAsync(stream, scratch.AsMemory(0, DataPlaneFrames.PullFields), cancellationToken).ConfigureAwait(false);
        var (version, offset, count, format) = DataPlaneFrames.ReadPullFields(scratch);
        RequireKnown(format);
        if (count is < 0 or > DataPlaneFrames.MaxPayloadBytes / sizeof(float))
        {
            throw new InvalidDataException($"It asks for a pull of {count} values; expected 0 to {DataPlaneFrames.MaxPayloadBytes / sizeof(float)}.");
        }

        var expected = BucketValues(key, offset);
        if (count != expected)
        {
            throw new InvalidDataException($"It asks for a pull of {count} values at offset {offset}; reducer {key} serves {expected} there.");
        }

        var reducer = grains.GetGrain<IReducerGrain>(key);
        VectorBucket? bucket;
        try
        {
            bucket = await reducer.GetBucketAsync(name, version, offset, count, format).ConfigureAwait(false);
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

    /// <summary>The value count of reducer <paramref name="key"/>'s bucket at <paramref name="offset"/>; throws when its shard has none there.</summary>
    private int BucketValues(string key, long offset) =>
        _open.BucketAt(key, offset) ?? throw new InvalidDataException($"Reducer {key} has no bucket at offset {offset}.");

    private static void RequireKnown(WireFormat format)
    {
        if (!format.IsKnown())
        {
            throw new InvalidDataException($"Its value format is {(byte)format}; expected 0 (float32) or 1 (bfloat16).");
        }
    }

    /// <summary>Answers <paramref name="message"/> as an error and closes the connection (within a few seconds whatever the peer does).</summary>
    private static async Task RefuseAsync(NetworkStream stream, byte[] scratch, string message)
    {
        try
        {
            await RespondErrorAsync(stream, scratch, message, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            await CloseAfterRefusalAsync(stream, scratch).ConfigureAwait(false);
        }
        catch (Exception failed) when (failed is IOException or SocketException or TimeoutException or ObjectDisposedException)
        {
            // The connection closes either way.
        }
    }

    /// <summary>
    /// Closes a connection after refusing it or a request without leaving the rest unread, which would make the kernel
    /// reset the connection and could drop the error response before the peer reads it: ends this side, then discards
    /// what still comes, into <paramref name="scratch"/>, until the peer closes (at most a second and 1 MiB).
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
        var needed = 3 + Encoding.UTF8.GetByteCount(text);
        var buffer = needed <= scratch.Length ? scratch : new byte[needed];
        buffer[0] = DataPlaneFrames.Error;
        var length = DataPlaneFrames.WriteString(buffer.AsSpan(1), text);
        await stream.WriteAsync(buffer.AsMemory(0, 1 + length), cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Data plane listening on {Endpoint}")]
    private partial void LogListening(string endpoint);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Data plane connection from {Peer} lost; a frame it was sending, if any, was dropped whole: {Reason}")]
    private partial void LogConnectionLost(string peer, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Data plane could not accept a connection: {Reason}")]
    private partial void LogAcceptFailed(string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Data plane refused a request from {Peer}: {What}")]
    private partial void LogRefused(string peer, string what);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Data plane refused the connection from {Peer}: {Why}")]
    private partial void LogUnauthenticated(string peer, string why);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Data plane is full: new connections wait until one closes (at most {MaxConnections} are served at once, {MaxPending} of them before they authenticate)")]
    private partial void LogFull(int maxConnections, int maxPending);
}
