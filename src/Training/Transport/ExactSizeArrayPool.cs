using System.Collections.Concurrent;

namespace UNetCluster.Training.Transport;

/// <summary>
/// Byte arrays of exactly the requested length, kept for reuse: a job's buckets come in a few sizes (the bucket size
/// and each shard's tail), and a message needs its array's length to be the bucket's. ArrayPool rounds lengths up to
/// powers of two. At most <see cref="PerLength"/> arrays of a length are kept; more are left to the GC, and
/// <see cref="Trim"/> lets go of the lengths no one asks for any more.
/// </summary>
internal sealed class ExactSizeArrayPool
{
    public const int PerLength = 16;

    private readonly ConcurrentDictionary<int, ConcurrentBag<byte[]>> _free = new();

    /// <summary>The bytes of the arrays kept for reuse.</summary>
    public long HeldBytes => _free.Sum(kv => (long)kv.Key * kv.Value.Count);

    public byte[] Rent(int length) =>
        _free.TryGetValue(length, out var bag) && bag.TryTake(out var array) ? array : GC.AllocateUninitializedArray<byte>(length);

    /// <summary>Gives an array back; only once no one can read or write it any more.</summary>
    public void Return(byte[] array)
    {
        ArgumentNullException.ThrowIfNull(array);
        var bag = _free.GetOrAdd(array.Length, _ => []);
        if (bag.Count < PerLength)
        {
            bag.Add(array);
        }
    }

    /// <summary>Drops the kept arrays of every length that <paramref name="keep"/> refuses.</summary>
    public void Trim(Func<int, bool> keep)
    {
        ArgumentNullException.ThrowIfNull(keep);
        foreach (var length in _free.Keys)
        {
            if (!keep(length))
            {
                _free.TryRemove(length, out _);
            }
        }
    }
}
