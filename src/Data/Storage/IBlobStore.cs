namespace UNetCluster.Data.Storage;

/// <summary>
/// Named blobs under one root (a folder, or an Azure Blob container and prefix). Names are relative, '/'-separated
/// paths (see <see cref="BlobNames"/>). Every write replaces the whole blob atomically: a reader sees the old
/// content or the new one, never a mix. Conditional writes give optimistic concurrency: a write whose condition
/// does not hold throws <see cref="BlobConflictException"/> and changes nothing.
/// </summary>
public interface IBlobStore
{
    /// <summary>Where a blob lives, for messages (a file path or a URI); also used for prefixes ("folders").</summary>
    string Describe(string name);

    /// <summary>Reads a blob with its ETag; null when it does not exist.</summary>
    Task<BlobContent?> ReadAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>The blobs whose names start with <paramref name="prefix"/> (plain string prefix, "" for all), ordered by name.</summary>
    Task<IReadOnlyList<BlobItem>> ListAsync(string prefix, CancellationToken cancellationToken = default);

    /// <summary>Deletes a blob; false when it did not exist.</summary>
    Task<bool> DeleteAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>
    /// Writes a blob if <paramref name="condition"/> holds (<see cref="BlobCondition.None"/>: unconditionally) and
    /// returns its new ETag; throws <see cref="BlobConflictException"/> when it does not hold.
    /// </summary>
    Task<string> WriteAsync(string name, ReadOnlyMemory<byte> content, BlobCondition condition, CancellationToken cancellationToken = default);
}

/// <summary>A blob's content and the ETag of exactly that content.</summary>
public sealed record BlobContent(byte[] Content, string ETag);

/// <summary>A listed blob.</summary>
public sealed record BlobItem(string Name, long Length);

/// <summary>When a write may go ahead.</summary>
public enum BlobConditionKind
{
    /// <summary>Always: create or replace.</summary>
    None,

    /// <summary>Only if no blob of that name exists.</summary>
    IfAbsent,

    /// <summary>Only if the blob exists and its ETag is the given one.</summary>
    IfMatch,
}

/// <summary>The condition of a write: none, only-if-absent, or only-if-the-ETag-matches.</summary>
public readonly record struct BlobCondition(BlobConditionKind Kind, string? ETag)
{
    public static BlobCondition None => new(BlobConditionKind.None, null);

    public static BlobCondition IfAbsent => new(BlobConditionKind.IfAbsent, null);

    public static BlobCondition IfMatch(string etag)
    {
        ArgumentException.ThrowIfNullOrEmpty(etag);
        return new(BlobConditionKind.IfMatch, etag);
    }

    /// <summary>If-match the ETag when there is one, else if-absent: "replace what I read, which may be nothing".</summary>
    public static BlobCondition Replacing(BlobContent? read) => read is null ? IfAbsent : IfMatch(read.ETag);

    public override string ToString() => Kind switch
    {
        BlobConditionKind.IfAbsent => "if absent",
        BlobConditionKind.IfMatch => $"if ETag is {ETag}",
        _ => "unconditionally",
    };
}

/// <summary>A conditional write whose condition did not hold: another writer got there first. Nothing was changed.</summary>
public sealed class BlobConflictException : Exception
{
    public BlobConflictException()
    {
    }

    public BlobConflictException(string message)
        : base(message)
    {
    }

    public BlobConflictException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public BlobConflictException(string name, BlobCondition condition, Exception? innerException = null)
        : base($"Blob '{name}' was not written: the condition '{condition}' does not hold (another writer changed it).", innerException)
    {
        Name = name;
        Condition = condition;
    }

    public string? Name { get; }

    public BlobCondition Condition { get; }
}
