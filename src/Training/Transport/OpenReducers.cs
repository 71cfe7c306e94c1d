using System.Collections.Concurrent;
using UNetCluster.Model.Distributed;

namespace UNetCluster.Training.Transport;

/// <summary>
/// The reducers set up on this silo, as its data plane may serve them: each with its shard's buckets (flat offset to
/// float count, cut by <see cref="ParameterShards.Buckets"/> as the workers cut them). A request for any other key is
/// refused without calling a grain, because a call would activate one; a request for another bucket is refused before
/// its payload is read, so that no frame makes the silo hold more than the open reducers' buckets.
/// </summary>
internal sealed class OpenReducers
{
    private readonly ConcurrentDictionary<string, IReadOnlyDictionary<long, int>> _open = new(StringComparer.Ordinal);

    public int Count => _open.Count;

    public void Open(string key, ShardRange range, int bucketBytes) =>
        _open[key] = ParameterShards.Buckets(range, bucketBytes).ToDictionary(b => b.Offset, b => checked((int)b.Length));

    public void Close(string key) => _open.TryRemove(key, out _);

    public bool IsOpen(string key) => _open.ContainsKey(key);

    /// <summary>The float count of reducer <paramref name="key"/>'s bucket at flat <paramref name="offset"/>; null when it has none there.</summary>
    public int? BucketAt(string key, long offset) =>
        _open.TryGetValue(key, out var buckets) && buckets.TryGetValue(offset, out var count) ? count : null;

    /// <summary>
    /// Whether some open reducer has a bucket of <paramref name="bytes"/> bytes as float32 or bf16 (pooled arrays of
    /// other lengths are dead weight).
    /// </summary>
    public bool Expects(int bytes) => _open.Values.Any(buckets => buckets.Values.Any(count => count * sizeof(float) == bytes || count * 2 == bytes));
}
