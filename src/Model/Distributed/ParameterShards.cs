namespace UNetCluster.Model.Distributed;

/// <summary>A contiguous range [Offset, Offset + Length) of the flat parameter vector.</summary>
public readonly record struct ShardRange(int Index, long Offset, long Length);

/// <summary>One bucket of the flat vector (<see cref="ShardRange.Offset"/> is global) and the shard it belongs to.</summary>
public readonly record struct ShardBucket(int Shard, ShardRange Range);

/// <summary>
/// How the flat parameter vector is cut for data-parallel training (../shared/DESIGN.md, "A training step"): into
/// reducer shards, each owned by one reducer with its slice of the optimizer state, and each shard into buckets of at
/// most a given size that travel as <c>byte[]</c> messages, well under Orleans' message size limit.
/// </summary>
public static class ParameterShards
{
    /// <summary>Cuts <paramref name="length"/> values into <paramref name="count"/> contiguous shards as even as possible.</summary>
    public static IReadOnlyList<ShardRange> Split(long length, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        if (count > length)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, $"Cannot cut {length} values into {count} non-empty shards.");
        }

        var shards = new ShardRange[count];
        long offset = 0;
        for (var i = 0; i < count; i++)
        {
            var size = (length / count) + (i < length % count ? 1 : 0);
            shards[i] = new ShardRange(i, offset, size);
            offset += size;
        }

        return shards;
    }

    /// <summary>Cuts a range into buckets of at most <paramref name="bucketBytes"/> bytes of float32 values.</summary>
    public static IReadOnlyList<ShardRange> Buckets(ShardRange range, int bucketBytes)
    {
        if (bucketBytes < sizeof(float))
        {
            throw new ArgumentOutOfRangeException(nameof(bucketBytes), bucketBytes, "A bucket holds at least one float (4 bytes).");
        }

        var perBucket = bucketBytes / sizeof(float);
        var buckets = new List<ShardRange>();
        for (long offset = 0; offset < range.Length; offset += perBucket)
        {
            buckets.Add(new ShardRange(buckets.Count, range.Offset + offset, Math.Min(perBucket, range.Length - offset)));
        }

        return buckets;
    }

    /// <summary>
    /// Every bucket of a flat vector of <paramref name="length"/> values cut into <paramref name="shards"/> shards, in
    /// shard order (ascending offsets): what a step sends and pulls and what a restore loads, cut in this one place.
    /// </summary>
    public static IReadOnlyList<ShardBucket> Layout(long length, int shards, int bucketBytes) =>
        [.. Split(length, shards).SelectMany(s => Buckets(s, bucketBytes).Select(b => new ShardBucket(s.Index, b)))];

    /// <summary>
    /// The global tile indexes each live worker computes at a step: the step's <paramref name="tiles"/> tiles, in
    /// contiguous runs as even as possible over the workers in their given (stable) order. When a worker is lost,
    /// the survivors share the same tiles, so the recomputed step has the same gradient.
    /// </summary>
    public static IReadOnlyList<long[]> AssignTiles(int tiles, int workers)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tiles);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(workers);
        return Split(Math.Max(tiles, workers), workers)
            .Select(r => Enumerable.Range((int)r.Offset, (int)r.Length).Where(t => t < tiles).Select(t => (long)t).ToArray())
            .ToList();
    }
}
