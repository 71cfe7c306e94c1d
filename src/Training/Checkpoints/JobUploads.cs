using Microsoft.Extensions.Logging;
using UNetCluster.Contracts.Messages;
using UNetCluster.Model.Checkpoints;

namespace UNetCluster.Training.Checkpoints;

/// <summary>
/// One job's background checkpoint upload on this worker (a <see cref="CheckpointUploader"/>) and what the coordinator
/// needs to know of it: the newest snapshot requested, the newest written, and failures since then.
/// </summary>
public sealed class JobUploads : IAsyncDisposable
{
    private readonly CheckpointUploader _uploader;
    private readonly object _lock = new();
    private TaskCompletionSource _written = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private SavedCheckpoint? _saved;
    private SavedCheckpoint? _best;
    private int _failures;
    private string? _lastError;

    public JobUploads(CheckpointStore store, ILogger logger)
    {
        _uploader = new CheckpointUploader(store, logger: logger);
        _uploader.Changed += OnChanged;
    }

    /// <summary>The step of the newest checkpoint requested (-1: none); its snapshot may still be being captured.</summary>
    public long Requested { get; private set; } = -1;

    /// <summary>Seconds the newest requested checkpoint held training.</summary>
    public double StallSeconds { get; private set; }

    /// <summary>Completes when the newest capture has handed its snapshot to the upload (or failed, which is reported).</summary>
    public Task CaptureDone { get; private set; } = Task.CompletedTask;

    /// <summary>Takes a capture running in the background; its snapshot goes to the upload when it is ready.</summary>
    public void Capture(long step, double stallSeconds, Task<CheckpointSnapshot> capture)
    {
        Requested = step;
        StallSeconds = stallSeconds;
        CaptureDone = EnqueueWhenCapturedAsync(step, capture);
    }

    private async Task EnqueueWhenCapturedAsync(long step, Task<CheckpointSnapshot> capture)
    {
        try
        {
            _uploader.Enqueue(await capture.ConfigureAwait(false));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            lock (_lock)
            {
                _failures++;
                _lastError = $"the checkpoint of step {step} could not be captured: {e.Message}";
            }

            // Asked again for this step (the job's final checkpoint is), the capture is tried again.
            if (Requested == step)
            {
                Requested = -1;
            }
        }
    }

    /// <summary>Waits until a checkpoint of at least <paramref name="step"/> is written, at most <paramref name="timeout"/>.</summary>
    public async Task WaitForAsync(long step, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            Task written;
            lock (_lock)
            {
                if (_saved is { } saved && saved.Step >= step)
                {
                    return;
                }

                written = _written.Task;
            }

            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || step < 0)
            {
                return;
            }

            await Task.WhenAny(written, Task.Delay(left, cancellationToken)).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    public CheckpointResult Result(double snapshotSeconds)
    {
        lock (_lock)
        {
            return new CheckpointResult(Requested, _saved?.Step, _saved?.Location, _saved?.Bytes ?? 0, _failures, _lastError, snapshotSeconds)
            {
                BestStep = _best?.Step,
                BestLocation = _best?.Location,
            };
        }
    }

    /// <summary>Lets the upload finish whatever it holds (however long storage is away), then stops it.</summary>
    public async Task CloseAsync()
    {
        await _uploader.FlushAsync().ConfigureAwait(false);
        await DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Stops at once; what was not written is reported abandoned by the uploader.</summary>
    public ValueTask DisposeAsync() => _uploader.DisposeAsync();

    private void OnChanged(object? sender, CheckpointUploadEventArgs e)
    {
        lock (_lock)
        {
            switch (e.Kind)
            {
                case CheckpointUploadEventKind.Uploaded when e.Saved is not null:
                    if (_saved is null || e.Saved.Step >= _saved.Step)
                    {
                        _saved = e.Saved;
                    }

                    if (e.Saved.IsBest)
                    {
                        _best = e.Saved;
                    }

                    _failures = 0;
                    _lastError = null;
                    _written.TrySetResult();
                    _written = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    break;
                case CheckpointUploadEventKind.AttemptFailed:
                    _failures++;
                    _lastError = e.Error?.Message;
                    break;
                default:
                    break;
            }
        }
    }
}
