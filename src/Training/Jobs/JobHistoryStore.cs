using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using UNetCluster.Contracts.Jobs;
using UNetCluster.Data.Storage;

namespace UNetCluster.Training.Jobs;

/// <summary>
/// A job's history kept beside its record (DESIGN.md's blob layout), written behind: <c>jobs/{job}/history.json</c>, a
/// snapshot of the whole bounded history, and <c>jobs/{job}/history-tail.json</c>, the entries appended since that
/// snapshot (it names the snapshot's revision, so a tail left over from an older snapshot is ignored). Appends go to
/// memory; <see cref="FlushAsync"/> (the history grain calls it about once a second) writes the tail, or, once the tail
/// holds <see cref="CompactAfter"/> entries, a new snapshot, so a write stays small however long the job runs. What a
/// crash can lose is what was appended since the last flush that reached storage. Writes are ETag-conditioned: if
/// another activation of the job's history wrote in between, this one reads storage again and re-applies its own
/// unwritten entries on top.
/// </summary>
public sealed partial class JobHistoryStore
{
    /// <summary>Entries in the tail after which the next flush writes a snapshot instead.</summary>
    public const int CompactAfter = 120;

    private const string SnapshotFile = "history.json";
    private const string TailFile = "history-tail.json";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,   // a step's loss may be NaN
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private readonly IBlobStore _blobs;
    private readonly ILogger _logger;
    private readonly List<JobHistoryEntry> _tail = [];   // entries since the snapshot, written or not, in order
    private JobHistoryLog _log;
    private long _snapshotRevision;                       // the revision of the snapshot _tail follows
    private int _written;                                 // how many of _tail storage holds
    private string? _snapshotETag;                        // null: not read, or absent (the next write creates it)
    private string? _tailETag;
    private bool _flushing;

    private JobHistoryStore(IBlobStore blobs, string jobId, ILogger? logger)
    {
        _blobs = blobs;
        _logger = logger ?? NullLogger.Instance;
        _log = new JobHistoryLog(jobId);
    }

    public static string SnapshotName(string jobId) => JobRecordStore.FileOf(jobId, SnapshotFile);

    public static string TailName(string jobId) => JobRecordStore.FileOf(jobId, TailFile);

    public string JobId => _log.JobId;

    /// <summary>Entries appended that storage does not hold yet.</summary>
    public int Unwritten => _tail.Count - _written;

    /// <summary>
    /// Opens a job's history: what storage holds of it, or an empty one when there is none. When storage cannot be read,
    /// the history starts empty in memory and the first write that finds one in storage reads it and merges.
    /// </summary>
    public static async Task<JobHistoryStore> OpenAsync(IBlobStore blobs, string jobId, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(blobs);
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        var store = new JobHistoryStore(blobs, jobId, logger);
        try
        {
            await store.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            LogUnreadable(store._logger, jobId, e.Message);
        }

        return store;
    }

    public void Append(JobHistoryEntry entry)
    {
        _log.Apply(entry);
        _tail.Add(entry);
    }

    /// <summary>The steps after <paramref name="afterStep"/> (all with -1), every checkpoint and every validation.</summary>
    public JobHistory Get(long afterStep = -1) => _log.Snapshot(afterStep);

    /// <summary>
    /// Writes what storage does not hold yet; false when storage could not be reached (the entries stay, and the next
    /// flush tries again). The content is taken before the first await, so appends may go on while a write is in
    /// flight; a flush called while another runs returns at once.
    /// </summary>
    public async Task<bool> FlushAsync(CancellationToken cancellationToken = default)
    {
        if (Unwritten == 0 || _flushing)
        {
            return true;
        }

        _flushing = true;
        try
        {
            if (_tail.Count >= CompactAfter)
            {
                var snapshot = _log.Snapshot();
                var taken = _tail.Count;
                _snapshotETag = await _blobs.WriteAsync(SnapshotName(JobId), Serialize(snapshot), Condition(_snapshotETag), cancellationToken).ConfigureAwait(false);
                _snapshotRevision = snapshot.Revision;
                _tail.RemoveRange(0, taken);   // the snapshot holds them; what was appended meanwhile stays
                _written = 0;
            }

            var tail = new HistoryTail(_snapshotRevision, [.. _tail]);
            _tailETag = await _blobs.WriteAsync(TailName(JobId), Serialize(tail), Condition(_tailETag), cancellationToken).ConfigureAwait(false);
            _written = Math.Max(_written, tail.Entries.Count);
            return true;
        }
        catch (BlobConflictException)
        {
            // Another activation of this history wrote since this one read: take what it wrote and add ours on top.
            var unwritten = _tail.Skip(_written).ToList();
            try
            {
                await ReadAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (IOException e)
            {
                LogUnwritten(_logger, JobId, Unwritten, e.Message);
                return false;
            }

            LogMerged(_logger, JobId, unwritten.Count);
            foreach (var entry in unwritten)
            {
                Append(entry);
            }

            return true;
        }
        catch (IOException e)
        {
            LogUnwritten(_logger, JobId, Unwritten, e.Message);
            return false;
        }
        finally
        {
            _flushing = false;
        }
    }

    /// <summary>Replaces the memory state with what storage holds: the snapshot, and the tail when it follows that snapshot.</summary>
    private async Task ReadAsync(CancellationToken cancellationToken)
    {
        var snapshotBlob = await _blobs.ReadAsync(SnapshotName(JobId), cancellationToken).ConfigureAwait(false);
        var tailBlob = await _blobs.ReadAsync(TailName(JobId), cancellationToken).ConfigureAwait(false);
        var snapshot = snapshotBlob is null ? null : Parse<JobHistory>(snapshotBlob, SnapshotName(JobId));
        var tail = tailBlob is null ? null : Parse<HistoryTail>(tailBlob, TailName(JobId));
        _log = snapshot is null ? new JobHistoryLog(JobId) : new JobHistoryLog(snapshot with { JobId = JobId });
        _snapshotRevision = _log.Revision;
        _snapshotETag = snapshotBlob?.ETag;
        _tailETag = tailBlob?.ETag;
        _tail.Clear();
        if (tail is not null && tail.SnapshotRevision == _snapshotRevision)
        {
            foreach (var entry in tail.Entries)
            {
                _log.Apply(entry);
                _tail.Add(entry);
            }
        }

        _written = _tail.Count;
    }

    private T? Parse<T>(BlobContent blob, string name)
        where T : class
    {
        try
        {
            return JsonSerializer.Deserialize<T>(blob.Content, Json);
        }
        catch (JsonException e)
        {
            // A damaged file is replaced by the next write (its ETag is kept for that); the job itself is not affected.
            LogDamaged(_logger, JobId, _blobs.Describe(name), e.Message);
            return null;
        }
    }

    private static BlobCondition Condition(string? etag) => etag is null ? BlobCondition.IfAbsent : BlobCondition.IfMatch(etag);

    private static byte[] Serialize<T>(T value) => JsonSerializer.SerializeToUtf8Bytes(value, Json);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The history of job {JobId} could not be read from storage ({Reason}); it starts empty here and is merged with storage's at its first write.")]
    private static partial void LogUnreadable(ILogger logger, string jobId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The history of job {JobId} was written by another activation; read it again and added {Entries} entries of this one.")]
    private static partial void LogMerged(ILogger logger, string jobId, int entries);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The history of job {JobId} could not be written ({Reason}); {Entries} entries wait in memory for the next try.")]
    private static partial void LogUnwritten(ILogger logger, string jobId, int entries, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The history of job {JobId} in {Blob} is damaged and is ignored ({Reason}); the next write replaces it.")]
    private static partial void LogDamaged(ILogger logger, string jobId, string blob, string reason);

    /// <summary>The entries appended after the snapshot of revision <paramref name="SnapshotRevision"/>.</summary>
    private sealed record HistoryTail(long SnapshotRevision, List<JobHistoryEntry> Entries);
}
