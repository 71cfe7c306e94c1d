using Microsoft.Extensions.Logging;
using UNetCluster.Contracts.Jobs;
using UNetCluster.Data.Storage;
using UNetCluster.Training.Jobs;

namespace UNetCluster.Training.Coordination;

/// <summary>
/// A coordinator's hold on its job's record (<see cref="JobRecordStore"/>, DESIGN.md's blob layout): it takes an
/// unfinished job over by writing the record with its own owner tag (ETag-conditioned, the epoch one more), publishes
/// the job's status there, and is fenced (<see cref="Fenced"/>) as soon as another coordinator's write got there
/// first. Storage being unreachable is logged and does not stop training. Not thread-safe: a grain's turns use it.
/// </summary>
public sealed partial class JobLease(string jobId, string coordinator, JobRecordStore records, ILogger logger)
{
    private string? _etag;
    private string _owner = string.Empty;
    private DateTimeOffset _published;
    private int _failedWrites;                       // writes failed in a row (storage away)
    private DateTimeOffset _retryAt = DateTimeOffset.MinValue;   // no unforced write before this, after a failure

    /// <summary>The job's status as this coordinator last read or set it; null before the record was read or when it has none.</summary>
    public JobStatus? Status { get; set; }

    /// <summary>Grows each time a coordinator takes the job over; reducer keys include it, so no two coordinators share reducers.</summary>
    public long Epoch { get; private set; }

    /// <summary>True once another coordinator owns the record: this one must stop at once.</summary>
    public bool Fenced { get; private set; }

    /// <summary>Raised when <see cref="Fenced"/> turns true.</summary>
    public event Action? FencedOff;

    /// <summary>
    /// Reads the job's record and, when the job is unfinished, takes it over for the activation <paramref name="activation"/>.
    /// True when this coordinator owns the job afterwards; <see cref="Status"/> is the record's status either way.
    /// </summary>
    public async Task<bool> TryTakeOverAsync(string activation, CancellationToken cancellationToken)
    {
        StoredJobRecord? stored;
        try
        {
            stored = await records.ReadAsync(jobId, cancellationToken);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or Azure.RequestFailedException)
        {
            LogRecordUnreadable(jobId, e);
            return false;
        }

        Status = stored?.Record.Status;
        if (stored is null || Status!.IsFinished)
        {
            return false;
        }

        var takeover = stored.Record.Owner.Length > 0;
        Epoch = stored.Record.Epoch + 1;
        Status = Status with
        {
            State = JobState.Pending,
            Steps = Status.Spec.Prediction is null ? JobOptions.Build(Status.Spec).Steps : Status.Steps,
            Coordinator = coordinator,
            Takeovers = Status.Takeovers + (takeover ? 1 : 0),
            TakeoversWithoutStep = Status.TakeoversWithoutStep + (takeover ? 1 : 0),
            Updated = DateTimeOffset.UtcNow,
        };
        _owner = $"{coordinator}#{activation}#{Epoch}";
        try
        {
            _etag = await records.ReplaceAsync(new JobRecord(Status, _owner, Epoch), stored.ETag, cancellationToken);
        }
        catch (BlobConflictException)
        {
            LogTakeOverLost(jobId);
            return false;
        }

        if (takeover)
        {
            LogTakenOver(jobId, stored.Record.Owner, Status.Step);
        }

        Fenced = false;
        return true;
    }

    /// <summary>
    /// Writes the status into the record, at most once a second unless forced; after a write failed (storage away), the
    /// unforced ones wait 2 s, then 4, 8, ... up to 30 s before the next try, so that training goes on at its pace
    /// while storage is unreachable (each failed write costs the client's retries, seconds).
    /// </summary>
    public Task PublishAsync(bool force) => TryPublishAsync(force);

    /// <summary>The final state must reach the record, or a later activation would resume a finished job: retried with backoff.</summary>
    public async Task PublishFinalAsync()
    {
        for (var attempt = 0; !await TryPublishAsync(force: true); attempt++)
        {
            await Task.Delay(TimeSpan.FromSeconds(Math.Min(30, 1 << Math.Min(attempt, 5))));
        }
    }

    /// <summary>True when the status was written (or another coordinator owns the record).</summary>
    private async Task<bool> TryPublishAsync(bool force)
    {
        var now = DateTimeOffset.UtcNow;
        if (Fenced || (!force && (now - _published < TimeSpan.FromSeconds(1) || now < _retryAt)))
        {
            return Fenced;
        }

        _published = now;
        Status = Status! with { Updated = now };
        try
        {
            _etag = await records.ReplaceAsync(new JobRecord(Status, _owner, Epoch), _etag!);
            _failedWrites = 0;
            _retryAt = DateTimeOffset.MinValue;
            return true;
        }
        catch (BlobConflictException)
        {
            LogFenced(jobId);
            Fenced = true;
            FencedOff?.Invoke();
            return true;
        }
        catch (Exception e) when (e is IOException or Azure.RequestFailedException or TimeoutException or OperationCanceledException)
        {
            _failedWrites++;
            _retryAt = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(Math.Min(30, 2 << Math.Min(_failedWrites - 1, 4)));
            LogPublishFailed(jobId, e);
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: taken over from {Owner} at step {Step}; resuming from its latest checkpoint")]
    private partial void LogTakenOver(string jobId, string owner, long step);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: another coordinator took the record first")]
    private partial void LogTakeOverLost(string jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: another coordinator owns the job's record now; this one stops")]
    private partial void LogFenced(string jobId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {JobId}: its record cannot be read")]
    private partial void LogRecordUnreadable(string jobId, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: publishing its status failed")]
    private partial void LogPublishFailed(string jobId, Exception exception);
}
