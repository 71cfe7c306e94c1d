using Microsoft.Extensions.Logging;
using UNetCluster.Contracts.Messages;
using UNetCluster.Model.Checkpoints;

namespace UNetCluster.Silo.Engines;

/// <summary>
/// One job's background checkpoint upload on this worker (a <see cref="CheckpointUploader"/>) and what the coordinator
/// needs to know of it: the newest snapshot requested, the newest written, and failures since then.
/// </summary>
internal sealed class JobUploads : IAsyncDisposable
{
    private readonly CheckpointUploader _uploader;
    private readonly object _lock = new();
    private TaskCompletionSource _written = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private SavedCheckpoint? _saved;
    private int _failures;
    private string? _lastError;

    public JobUploads(CheckpointStore store, ILogger logger)
    {
        _uploader = new CheckpointUploader(store, logger: logger);
        _uploader.Changed += OnChanged;
    }

    /// <summary>The step of the newest snapshot handed to the upload (-1: none).</summary>
    public long Requested { get; private set; } = -1;

    public void Enqueue(CheckpointSnapshot snapshot)
    {
        Requested = snapshot.Step;
        _uploader.Enqueue(snapshot);
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
            return new CheckpointResult(Requested, _saved?.Step, _saved?.Location, _saved?.Bytes ?? 0, _failures, _lastError, snapshotSeconds);
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
                    _saved = e.Saved;
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
