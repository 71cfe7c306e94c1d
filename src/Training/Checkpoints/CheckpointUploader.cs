using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using UNetCluster.Model.Checkpoints;

namespace UNetCluster.Training.Checkpoints;

/// <summary>What happened to a checkpoint request.</summary>
public enum CheckpointUploadEventKind
{
    /// <summary>The snapshot was written (see <see cref="CheckpointUploadEventArgs.Saved"/>).</summary>
    Uploaded,

    /// <summary>An attempt failed; after <see cref="CheckpointUploadEventArgs.RetryIn"/> the same snapshot is retried, or a newer one that arrived meanwhile is tried instead.</summary>
    AttemptFailed,

    /// <summary>The snapshot was not written because a newer one replaced it (it was pending, or failing when the newer one came).</summary>
    Superseded,

    /// <summary>The uploader was disposed before the snapshot was written.</summary>
    Abandoned,
}

/// <summary>One event of a <see cref="CheckpointUploader"/>.</summary>
public sealed class CheckpointUploadEventArgs(CheckpointUploadEventKind kind, long step, int attempt = 0, Exception? error = null,
    TimeSpan? retryIn = null, SavedCheckpoint? saved = null, long? supersededBy = null) : EventArgs
{
    public CheckpointUploadEventKind Kind { get; } = kind;

    public long Step { get; } = step;

    /// <summary>Attempts made for this snapshot so far.</summary>
    public int Attempt { get; } = attempt;

    public Exception? Error { get; } = error;

    public TimeSpan? RetryIn { get; } = retryIn;

    public SavedCheckpoint? Saved { get; } = saved;

    /// <summary>For <see cref="CheckpointUploadEventKind.Superseded"/>: the step of the snapshot that replaced it.</summary>
    public long? SupersededBy { get; } = supersededBy;
}

/// <summary>What <see cref="CheckpointUploader.Enqueue"/> did with a snapshot.</summary>
public enum CheckpointEnqueueResult
{
    /// <summary>Nothing was in flight: the upload started.</summary>
    Started,

    /// <summary>An upload is in flight: the snapshot waits and is uploaded next.</summary>
    Queued,

    /// <summary>An upload is in flight and an older snapshot was already waiting: the new one replaced it (reported as <see cref="CheckpointUploadEventKind.Superseded"/>).</summary>
    ReplacedPending,
}

/// <summary>Retry timing of <see cref="CheckpointUploader"/>: exponential backoff from <paramref name="InitialDelay"/>, doubling up to <paramref name="MaxDelay"/>.</summary>
public sealed record CheckpointUploadOptions(TimeSpan InitialDelay, TimeSpan MaxDelay)
{
    public CheckpointUploadOptions()
        : this(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(30))
    {
    }
}

/// <summary>
/// Saves checkpoint snapshots to a <see cref="CheckpointStore"/> on a background task, so that the training thread
/// only pays for <see cref="CheckpointSnapshot.Capture"/>. At most one upload is in flight; one more snapshot may wait,
/// and a newer request replaces a waiting one (the older is reported <see cref="CheckpointUploadEventKind.Superseded"/>:
/// it is never dropped silently). A failed attempt is retried with exponential backoff for as long as it takes;
/// if a newer snapshot has arrived by the end of the wait, it is uploaded instead (the failing one is reported
/// superseded). Every outcome is an event and a log entry. <see cref="FlushAsync"/> waits until nothing is left.
/// </summary>
public sealed partial class CheckpointUploader : IAsyncDisposable
{
    private readonly CheckpointStore _store;
    private readonly CheckpointUploadOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _lock = new();
    private CheckpointSnapshot? _pending;
    private CheckpointSnapshot? _pendingBest;   // a run's best waiting behind a newer snapshot: never superseded by one that is not a best
    private Task? _worker;
    private TaskCompletionSource? _idle;
    private int _superseded;
    private TimeSpan _delay;

    public CheckpointUploader(CheckpointStore store, CheckpointUploadOptions? options = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
        _options = options ?? new CheckpointUploadOptions();
        _logger = logger ?? NullLogger.Instance;
        _delay = _options.InitialDelay;
    }

    /// <summary>Raised on the background task (or in <see cref="Enqueue"/> for a replaced snapshot) for every outcome; handlers must be quick. A handler that throws is logged and ignored.</summary>
    public event EventHandler<CheckpointUploadEventArgs>? Changed;

    /// <summary>The store the snapshots go to.</summary>
    public CheckpointStore Store => _store;

    /// <summary>The last snapshot written, or null.</summary>
    public SavedCheckpoint? LastSaved { get; private set; }

    /// <summary>Failed attempts so far (each reported as <see cref="CheckpointUploadEventKind.AttemptFailed"/>).</summary>
    public int FailedAttempts { get; private set; }

    /// <summary>Snapshots replaced by newer ones before they were written.</summary>
    public int Superseded => Volatile.Read(ref _superseded);

    /// <summary>True while an upload is in flight or a snapshot waits.</summary>
    public bool IsBusy
    {
        get
        {
            lock (_lock)
            {
                return _worker is not null;
            }
        }
    }

    /// <summary>Hands a snapshot to the background upload and returns at once.</summary>
    public CheckpointEnqueueResult Enqueue(CheckpointSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ObjectDisposedException.ThrowIf(_stopping.IsCancellationRequested, this);
        CheckpointSnapshot? replaced;
        CheckpointEnqueueResult result;
        lock (_lock)
        {
            replaced = _pending;
            _pending = snapshot;
            if (replaced?.Selection is not null && snapshot.Selection is null)
            {
                _pendingBest = replaced;   // written first, then the newer one
                replaced = null;
            }

            if (_worker is null)
            {
                _idle = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _worker = Task.Run(RunAsync);
                result = CheckpointEnqueueResult.Started;
            }
            else
            {
                result = replaced is null ? CheckpointEnqueueResult.Queued : CheckpointEnqueueResult.ReplacedPending;
            }
        }

        if (replaced is not null)
        {
            Report(new CheckpointUploadEventArgs(CheckpointUploadEventKind.Superseded, replaced.Step, supersededBy: snapshot.Step));
        }

        return result;
    }

    /// <summary>
    /// Waits until every enqueued snapshot is written or superseded (the newest is written). While storage is down
    /// this waits for it to come back, so pass a timeout or token if the caller cannot wait.
    /// </summary>
    public Task FlushAsync(CancellationToken cancellationToken = default)
    {
        Task idle;
        lock (_lock)
        {
            idle = _idle?.Task ?? Task.CompletedTask;
            if (_worker is null)
            {
                idle = Task.CompletedTask;
            }
        }

        return idle.WaitAsync(cancellationToken);
    }

    /// <summary>Stops at once: an upload in flight is cancelled and it and a waiting snapshot are reported abandoned. Flush first to keep them.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        Task? worker;
        lock (_lock)
        {
            worker = _worker;
        }

        if (worker is not null)
        {
            await worker.ConfigureAwait(false);
        }

        _stopping.Dispose();
    }

    private async Task RunAsync()
    {
        while (true)
        {
            CheckpointSnapshot? snapshot;
            lock (_lock)
            {
                snapshot = _pendingBest ?? _pending;
                if (_pendingBest is not null)
                {
                    _pendingBest = null;
                }
                else
                {
                    _pending = null;
                }

                if (snapshot is null || _stopping.IsCancellationRequested)
                {
                    _worker = null;
                    _idle?.TrySetResult();
                    _idle = null;
                    break;
                }
            }

            await UploadAsync(snapshot).ConfigureAwait(false);
        }

        // Anything left when stopping is reported, not dropped silently.
        CheckpointSnapshot? left;
        CheckpointSnapshot? leftBest;
        lock (_lock)
        {
            left = _pending;
            _pending = null;
            leftBest = _pendingBest;
            _pendingBest = null;
        }

        foreach (var abandoned in new[] { leftBest, left })
        {
            if (abandoned is not null)
            {
                Report(new CheckpointUploadEventArgs(CheckpointUploadEventKind.Abandoned, abandoned.Step));
            }
        }
    }

    /// <summary>
    /// Uploads one snapshot, retrying until it is written, superseded by a newer one, or the uploader stops. The
    /// backoff belongs to the storage, not to a snapshot: it goes on growing when a newer snapshot takes over after a
    /// failure, and starts again from <see cref="CheckpointUploadOptions.InitialDelay"/> after a success.
    /// </summary>
    private async Task UploadAsync(CheckpointSnapshot snapshot)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var saved = await _store.SaveAsync(snapshot, _stopping.Token).ConfigureAwait(false);
                _delay = _options.InitialDelay;
                LastSaved = saved;
                Report(new CheckpointUploadEventArgs(CheckpointUploadEventKind.Uploaded, snapshot.Step, attempt, saved: saved));
                return;
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                Report(new CheckpointUploadEventArgs(CheckpointUploadEventKind.Abandoned, snapshot.Step, attempt));
                return;
            }
            catch (Exception e)
            {
                FailedAttempts++;
                Report(new CheckpointUploadEventArgs(CheckpointUploadEventKind.AttemptFailed, snapshot.Step, attempt, e, _delay));
            }

            try
            {
                await Task.Delay(_delay, _stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                Report(new CheckpointUploadEventArgs(CheckpointUploadEventKind.Abandoned, snapshot.Step, attempt));
                return;
            }

            _delay = TimeSpan.FromTicks(Math.Min(_delay.Ticks * 2, _options.MaxDelay.Ticks));
            long? newer;
            lock (_lock)
            {
                // A run's best is retried until written (a newer snapshot waits behind it), unless a newer best came.
                newer = snapshot.Selection is null || _pending?.Selection is not null ? _pending?.Step : null;
            }

            if (newer is not null)
            {
                Report(new CheckpointUploadEventArgs(CheckpointUploadEventKind.Superseded, snapshot.Step, attempt, supersededBy: newer));
                return;
            }
        }
    }

    private void Report(CheckpointUploadEventArgs e)
    {
        switch (e.Kind)
        {
            case CheckpointUploadEventKind.Uploaded:
                LogUploaded(e.Step, e.Saved!.Location, e.Attempt, e.Saved.IsLatest);
                break;
            case CheckpointUploadEventKind.AttemptFailed:
                LogAttemptFailed(e.Step, e.Attempt, e.RetryIn ?? TimeSpan.Zero, e.Error!);
                break;
            case CheckpointUploadEventKind.Superseded:
                Interlocked.Increment(ref _superseded);
                LogSuperseded(e.Step, e.SupersededBy ?? -1);
                break;
            case CheckpointUploadEventKind.Abandoned:
                LogAbandoned(e.Step);
                break;
        }

        try
        {
            Changed?.Invoke(this, e);
        }
        catch (Exception handlerError)
        {
            // A subscriber's bug must not stop the uploads (and so hang FlushAsync): it is logged.
            LogHandlerFailed(e.Kind, e.Step, handlerError);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Checkpoint of step {Step} written to {Location} (attempt {Attempt}, latest: {IsLatest})")]
    private partial void LogUploaded(long step, string location, int attempt, bool isLatest);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Checkpoint of step {Step}: attempt {Attempt} failed; trying again in {RetryIn} (a newer checkpoint instead, if one came meanwhile)")]
    private partial void LogAttemptFailed(long step, int attempt, TimeSpan retryIn, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Checkpoint of step {Step} was not written: the newer checkpoint of step {Newer} replaced it")]
    private partial void LogSuperseded(long step, long newer);

    [LoggerMessage(Level = LogLevel.Error, Message = "A handler of the checkpoint uploader's {Kind} event for step {Step} threw")]
    private partial void LogHandlerFailed(CheckpointUploadEventKind kind, long step, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Checkpoint of step {Step} was not written: the uploader stopped")]
    private partial void LogAbandoned(long step);
}
