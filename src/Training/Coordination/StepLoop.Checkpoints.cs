using Microsoft.Extensions.Logging;
using UNetCluster.Contracts.Messages;

namespace UNetCluster.Training.Coordination;

/// <summary>The step loop's checkpoints, releases, waits and log messages.</summary>
public sealed partial class StepLoop
{
    /// <summary>
    /// Has the first worker of the last committed step snapshot it and upload it in the background; training goes on
    /// meanwhile. The status shows the newest written checkpoint and any failing uploads (retried by the worker).
    /// </summary>
    private async Task<CheckpointResult?> CheckpointAsync(bool wait)
    {
        try
        {
            var plan = new CheckpointPlan(_jobId, _spec, _version, _reducers, _bucketBytes, _statistics.SmoothedLoss, wait)
            {
                Best = _marked is { } marked && marked.Step == _version ? marked.Mark : null,
                Threshold = Status.Validation?.Threshold,
                MinObjectPixels = Status.Validation is { ObjectF1: not null } objects ? objects.MinObjectPixels : null,   // instance truth only
            };
            var result = await _cluster.WriteCheckpointAsync(_committedBy[0], plan);
            if (result.WrittenStep is { } written && written != Status.CheckpointStep)
            {
                _cluster.CheckpointWritten(written, result.Written!, result.WrittenBytes, TimeSpan.FromSeconds(result.SnapshotSeconds));
            }

            Status = Status with
            {
                CheckpointRequestedStep = result.Requested,
                CheckpointStep = result.WrittenStep ?? Status.CheckpointStep,
                Checkpoint = result.Written ?? Status.Checkpoint,
                CheckpointBytes = result.WrittenStep is null ? Status.CheckpointBytes : result.WrittenBytes,
                CheckpointFailures = result.FailedAttempts,
                CheckpointError = result.LastError,
                CheckpointStallSeconds = result.SnapshotSeconds,
                BestCheckpoint = result.BestStep is { } bestStep && bestStep == Status.BestValidation?.Step ? result.BestLocation : Status.BestCheckpoint,
            };
            return result;
        }
        catch (Exception e) when (IsCallFailure(e) || e is IOException)
        {
            LogCheckpointFailed(_jobId, _version, e);
            return null;
        }
    }

    /// <summary>
    /// The job's last checkpoint must be written before the job counts as finished: asks again (the worker re-uses the
    /// snapshot it holds) until the upload has landed, for at most <see cref="FinalCheckpointPatience"/>.
    /// </summary>
    private async Task FinalCheckpointAsync()
    {
        var deadline = DateTime.UtcNow + FinalCheckpointPatience;
        while (true)
        {
            var result = await CheckpointAsync(wait: true);
            if (result?.WrittenStep == _version)
            {
                return;
            }

            await _lease.PublishAsync(force: false);
            if (DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException(
                    $"The final checkpoint (step {_version}) was not written within {FinalCheckpointPatience.TotalMinutes} minutes: {result?.LastError ?? "the worker did not answer"}.");
            }

            await WaitAsync(TimeSpan.FromSeconds(2));
        }
    }

    private async Task ReleaseAsync()
    {
        foreach (var worker in _cluster.LiveWorkers(_spec.Workers))
        {
            try
            {
                await _cluster.ReleaseWorkerAsync(worker, _jobId).WaitAsync(CheckTimeout);
            }
            catch (Exception e) when (IsCallFailure(e))
            {
                LogReleaseFailed(_jobId, worker, e);
            }
        }

        await ReleaseReducersAsync([.. _reducers, .. _copies.Where(c => c.Length > 0)]);
    }

    private async Task ReleaseReducersAsync(List<string> reducers)
    {
        foreach (var reducer in reducers.Where(_cluster.IsAlive))
        {
            try
            {
                await _cluster.ReleaseReducerAsync(reducer).WaitAsync(CheckTimeout);
            }
            catch (Exception e) when (IsCallFailure(e))
            {
                LogReleaseFailed(_jobId, reducer, e);
            }
        }
    }

    /// <summary>Waits for a report, a cancel or fencing, at most <paramref name="timeout"/>.</summary>
    private async Task WaitAsync(TimeSpan timeout)
    {
        var signal = _signal;
        await Task.WhenAny(signal.Task, Task.Delay(timeout));
        if (signal.Task.IsCompleted)
        {
            _signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    /// <summary>How a grain call fails when its grain's silo dies, it times out, or the grain refuses: the attempt is given up, not the job.</summary>
    private static bool IsCallFailure(Exception e) => e is OrleansException or TimeoutException or InvalidOperationException;

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: {Reducers} reducers set up at step {Version} over {Workers} workers")]
    private partial void LogSetUp(string jobId, int reducers, long version, int workers);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: setting the reducers up failed (attempt {Attempt}); retrying")]
    private partial void LogSetUpRetry(string jobId, int attempt, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: step {Step} is recomputed: {Reason}")]
    private partial void LogRecompute(string jobId, long step, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {JobId} failed")]
    private partial void LogFailed(string jobId, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: the checkpoint of step {Step} failed")]
    private partial void LogCheckpointFailed(string jobId, long step, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: releasing {Grain} failed")]
    private partial void LogReleaseFailed(string jobId, string grain, Exception exception);
}
