using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using UNetCluster.Contracts.Grains;
using UNetCluster.Contracts.Messages;
using UNetCluster.Model.Distributed;
using UNetCluster.Training.Settings;

namespace UNetCluster.Training.Transport;

/// <summary>
/// A worker's end of the data plane (see <see cref="DataPlaneServer"/>): sends gradient buckets to, and pulls vector
/// buckets from, reducers on other silos over pooled TCP connections, one request at a time per connection. A pulled
/// bucket is read straight into its place in the destination vector. <see cref="EndpointOfAsync"/> says which reducers
/// it serves; <see cref="BucketTransport"/> calls the others as grains. Any failure (a dead peer, a timeout) throws, as a failed grain call would, and the connection is dropped.
/// Every new connection first proves that this silo holds the cluster's key, and checks that the server does
/// (<see cref="DataPlaneHandshake"/>); where the secrets differ, the request fails naming the setting.
/// </summary>
public sealed class DataPlaneClient(IGrainFactory grains, ILocalSiloDetails silo, ClusterSettings cluster, DataPlaneKey clusterKey) : IDisposable
{
    private readonly ConcurrentDictionary<string, Task<string?>> _endpoints = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ConcurrentBag<Connection>> _idle = new(StringComparer.Ordinal);
    private readonly ClusterSettings _cluster = cluster;

    /// <summary>
    /// The data-plane endpoint to reach reducer <paramref name="key"/> through, or null to call it as a grain (it is on
    /// this silo, the data plane is off, or its silo serves none).
    /// </summary>
    public async ValueTask<string?> EndpointOfAsync(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (!_cluster.DataPlane || SiloKeys.SiloOf(key).Equals(silo.SiloAddress))
        {
            return null;
        }

        if (!_endpoints.TryGetValue(key, out var lookup))
        {
            // Counting locks the whole dictionary, so only on a miss: once per reducer of a job, not per bucket.
            if (_endpoints.Count > 4096)
            {
                _endpoints.Clear();   // keys name a job's reducer generation: old jobs' entries are dead weight
            }

            lookup = _endpoints.GetOrAdd(key, k => grains.GetGrain<IReducerGrain>(k).GetDataEndpointAsync());
        }
        try
        {
            var endpoint = await lookup.ConfigureAwait(false);
            if (endpoint is null)
            {
                _endpoints.TryRemove(key, out _);   // not started yet: ask again next time
            }

            return endpoint;
        }
        catch
        {
            _endpoints.TryRemove(key, out _);
            throw;
        }
    }

    /// <summary>Sends a gradient bucket to reducer <paramref name="key"/> through <paramref name="endpoint"/>.</summary>
    public async Task<ContributionOutcome> AddGradientAsync(string endpoint, string key, GradientBucket bucket)
    {
        ArgumentNullException.ThrowIfNull(bucket);
        return await UseAsync(endpoint, key, async (connection, token) =>
        {
            var head = connection.Scratch;
            var length = DataPlaneFrames.WriteGradientRequest(head, key,
                new(bucket.Step, bucket.Attempt, bucket.WorkerIndex, bucket.Samples, bucket.Offset, bucket.Format, bucket.Values.Length));
            await connection.Stream.WriteAsync(head.AsMemory(0, length), token).ConfigureAwait(false);
            await connection.Stream.WriteAsync(bucket.Values, token).ConfigureAwait(false);
            await ReadStatusAsync(connection, endpoint, key, token).ConfigureAwait(false);
            await DataPlaneFrames.ReadExactlyAsync(connection.Stream, head.AsMemory(0, 4), token).ConfigureAwait(false);
            return (ContributionOutcome)BinaryPrimitives.ReadInt32LittleEndian(head);
        }).ConfigureAwait(false);
    }

    /// <summary>
    /// Pulls <paramref name="count"/> values of vector <paramref name="name"/> at <paramref name="version"/> from
    /// reducer <paramref name="key"/> into <paramref name="destination"/> at <paramref name="offset"/>. False while the
    /// reducer has not reached the version. Throws when it has moved past it (its message is the reducer's). With
    /// <paramref name="format"/> bf16 the reducer sends the values' bf16 rounding (half the bytes), widened here.
    /// </summary>
    public async Task<bool> PullAsync(string endpoint, string key, string name, long version, long offset, int count, float[] destination, WireFormat format = WireFormat.Fp32)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(destination);
        return await UseAsync(endpoint, key, async (connection, token) =>
        {
            var head = connection.Scratch;
            var length = DataPlaneFrames.WritePullRequest(head, key, name, new(version, offset, count, format));
            await connection.Stream.WriteAsync(head.AsMemory(0, length), token).ConfigureAwait(false);
            if (!await ReadStatusAsync(connection, endpoint, key, token).ConfigureAwait(false))
            {
                return false;
            }

            await DataPlaneFrames.ReadExactlyAsync(connection.Stream, head.AsMemory(0, 4), token).ConfigureAwait(false);
            var bytes = BinaryPrimitives.ReadInt32LittleEndian(head);
            if (bytes != count * format.BytesPerValue())
            {
                throw new InvalidDataException($"Reducer {key} at {endpoint} sent {bytes} bytes for a pull of {count} values as {format}.");
            }

            if (format == WireFormat.Bf16)
            {
                var narrow = ArrayPool<byte>.Shared.Rent(bytes);
                try
                {
                    await DataPlaneFrames.ReadExactlyAsync(connection.Stream, narrow.AsMemory(0, bytes), token).ConfigureAwait(false);
                    BFloat16Values.Widen(narrow.AsSpan(0, bytes), destination.AsSpan(checked((int)offset), count));
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(narrow);
                }

                return true;
            }

            using var target = new FloatBytes(destination);
            await DataPlaneFrames.ReadExactlyAsync(connection.Stream, target.Memory.Slice(checked((int)offset * sizeof(float)), bytes), token).ConfigureAwait(false);
            return true;
        }).ConfigureAwait(false);
    }

    public void Dispose()
    {
        foreach (var bag in _idle.Values)
        {
            while (bag.TryTake(out var connection))
            {
                connection.Dispose();
            }
        }
    }

    /// <summary>True: Ok follows. False: NotYet. Throws the reducer's error.</summary>
    private static async Task<bool> ReadStatusAsync(Connection connection, string endpoint, string key, CancellationToken token)
    {
        await DataPlaneFrames.ReadExactlyAsync(connection.Stream, connection.Scratch.AsMemory(0, 1), token).ConfigureAwait(false);
        switch (connection.Scratch[0])
        {
            case DataPlaneFrames.Ok:
                return true;
            case DataPlaneFrames.NotYet:
                return false;
            case DataPlaneFrames.Error:
                var message = await DataPlaneFrames.ReadStringAsync(connection.Stream, connection.Scratch, DataPlaneFrames.MaxMessageBytes, "error message", token).ConfigureAwait(false);
                throw new InvalidOperationException($"Reducer {key} (data plane {endpoint}): {message}");
            default:
                throw new InvalidDataException($"The data plane at {endpoint} answered with status {connection.Scratch[0]}.");
        }
    }

    /// <summary>
    /// Runs one request on an idle or new connection, within the response timeout; keeps the connection only if the
    /// request completed. An idle connection that fails (its silo restarted at the same endpoint, say) is replaced by a
    /// new one once: both requests may be repeated, because a pull only reads and a reducer counts a bucket (a fixed cut
    /// of its shard) once however often it comes.
    /// </summary>
    private async Task<T> UseAsync<T>(string endpoint, string key, Func<Connection, CancellationToken, Task<T>> request)
    {
        var idle = _idle.GetOrAdd(endpoint, _ => []);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(_cluster.ResponseTimeoutSeconds));
        var reused = idle.TryTake(out var connection);
        while (true)
        {
            connection ??= await Connection.OpenAsync(endpoint, clusterKey, timeout.Token).ConfigureAwait(false);
            try
            {
                var result = await request(connection, timeout.Token).ConfigureAwait(false);
                idle.Add(connection);
                return result;
            }
            catch (Exception e) when (reused && e is IOException or SocketException)
            {
                connection.Dispose();
                (connection, reused) = (null, false);
            }
            catch (OperationCanceledException e) when (timeout.IsCancellationRequested)
            {
                connection.Dispose();
                throw new TimeoutException($"Reducer {key} did not answer through the data plane at {endpoint} within {_cluster.ResponseTimeoutSeconds} s.", e);
            }
            catch
            {
                connection.Dispose();
                throw;
            }
        }
    }

    private sealed class Connection(Socket socket) : IDisposable
    {
        public NetworkStream Stream { get; } = new(socket, ownsSocket: true);

        public byte[] Scratch { get; } = new byte[DataPlaneFrames.MaxMessageBytes + 64];   // a request head (key, name) or an error message

        /// <summary>Connects to <paramref name="endpoint"/> and runs the client's half of the handshake.</summary>
        public static async Task<Connection> OpenAsync(string endpoint, DataPlaneKey key, CancellationToken cancellationToken)
        {
            var address = IPEndPoint.Parse(endpoint);
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            Connection? connection = null;
            try
            {
                await socket.ConnectAsync(address, cancellationToken).ConfigureAwait(false);
                connection = new Connection(socket);
                await DataPlaneHandshake.AuthenticateAsync(connection.Stream, key, endpoint, cancellationToken).ConfigureAwait(false);
                return connection;
            }
            catch
            {
                connection?.Dispose();
                socket.Dispose();
                throw;
            }
        }

        public void Dispose() => Stream.Dispose();
    }

    /// <summary>A float array's memory as bytes, pinned while a socket read fills it.</summary>
    private sealed class FloatBytes(float[] array) : MemoryManager<byte>
    {
        private GCHandle _handle;

        public override Span<byte> GetSpan() => MemoryMarshal.AsBytes(array.AsSpan());

        public override unsafe MemoryHandle Pin(int elementIndex = 0)
        {
            if (!_handle.IsAllocated)
            {
                _handle = GCHandle.Alloc(array, GCHandleType.Pinned);
            }

            return new MemoryHandle((byte*)_handle.AddrOfPinnedObject() + elementIndex, default, this);
        }

        public override void Unpin()
        {
        }

        protected override void Dispose(bool disposing)
        {
            if (_handle.IsAllocated)
            {
                _handle.Free();
            }
        }
    }
}
