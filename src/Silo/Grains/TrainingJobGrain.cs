using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using UNetCluster.Contracts.Grains;
using UNetCluster.Contracts.Jobs;
using UNetCluster.Contracts.Messages;
using UNetCluster.Data.Storage;
using UNetCluster.Model.Distributed;
using UNetCluster.Model.Training;
using UNetCluster.Silo.Jobs;
using UNetCluster.Silo.Placement;
using UNetCluster.Silo.Telemetry;

namespace UNetCluster.Silo.Grains;

/// <summary>
/// The coordinator of one job (DESIGN.md, "A training step"). Its loop runs in the grain's context but only sends
/// messages and waits: for step s it takes the live workers in a stable order, assigns them the step's tiles, opens the
/// step on every reducer, starts the workers, and commits s once every worker has pulled the parameters that every
/// reducer produced. A lost worker or a refused gradient makes it recompute s with a new attempt over the survivors;
/// when a reducer's state is lost, every reducer is set up again from the latest checkpoint. Each step is applied once.
/// The job's record (<see cref="JobRecordStore"/>) is its state: an activation takes an unfinished job over by
/// writing the record with its own owner tag (ETag-conditioned) and resumes from the latest checkpoint; it writes its
/// status there about once a second, and stops at once if another coordinator has taken the record.
/// </summary>
public sealed partial class TrainingJobGrain(
    IClusterMembershipService membership, ILocalSiloDetails silo, JobRecordStore records, ILogger<TrainingJobGrain> logger) : Grain, ITrainingJobGrain
{
    private const int MaxFailuresPerStep = 5;
    private const int MaxSetupFailures = 120;
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan StepTimeout = TimeSpan.FromMinutes(15);
    private static readonly TimeSpan FinalCheckpointPatience = TimeSpan.FromMinutes(10);

    private readonly Dictionary<int, StepReport> _reports = [];
    private readonly Queue<(TimeSpan At, int Tiles)> _recent = new();
    private JobStatus? _status;
    private JobSpec? _spec;
    private TrainingOptions? _options;
    private TaskCompletionSource _signal = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private List<string> _reducers = [];
    private int _generation;
    private long _version;
    private long _attemptStep = -1;
    private int _attempt;
    private bool _cancelRequested;
    private DateTimeOffset _published;
    private double _openSeconds;
    private double _stepSeconds;
    private string? _etag;
    private long _epoch;
    private bool _running;
    private bool _fenced;

    private string Id => this.GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        await TakeOverIfUnfinishedAsync(cancellationToken);
        await base.OnActivateAsync(cancellationToken);
    }

    public async Task StartAsync(JobSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (_running)
        {
            if (_spec == spec)
            {
                return;
            }

            throw new InvalidOperationException($"Job {Id} is already running with another spec.");
        }

        // The registry has just written (or rewritten) the record: take it over.
        if (!await TakeOverIfUnfinishedAsync(CancellationToken.None))
        {
            throw new InvalidOperationException($"Job {Id} could not be started: {(_status is null ? "it has no record" : $"it is {_status.State.ToString().ToLowerInvariant()}")}.");
        }
    }

    public async Task<JobStatus> GetStatusAsync()
    {
        if (_status is null || (!_running && !_status.IsFinished))
        {
            await TakeOverIfUnfinishedAsync(CancellationToken.None);
        }

        if (_status is not null)
        {
            return _status;
        }

        DeactivateOnIdle();
        throw new KeyNotFoundException($"job '{Id}' is unknown: 'unet list' shows the cluster's jobs.");
    }

    public async Task<JobStatus> CancelAsync()
    {
        var status = await GetStatusAsync();
        if (!status.IsFinished)
        {
            _cancelRequested = true;
            _signal.TrySetResult();
        }

        return status;
    }

    /// <summary>
    /// Reads the job's record; when the job is unfinished and no loop runs here, takes it over (the record's write is
    /// conditioned on the ETag just read) and starts the loop, which resumes from the latest checkpoint. True when the
    /// loop runs here afterwards.
    /// </summary>
    private async Task<bool> TakeOverIfUnfinishedAsync(CancellationToken cancellationToken)
    {
        if (_running)
        {
            return true;
        }

        StoredJobRecord? stored;
        try
        {
            stored = await records.ReadAsync(Id, cancellationToken);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or Azure.RequestFailedException)
        {
            LogRecordUnreadable(Id, e);
            return false;
        }

        if (stored is null)
        {
            return false;
        }

        _status = stored.Record.Status;
        if (_status.IsFinished)
        {
            return false;
        }

        var takeover = stored.Record.Owner.Length > 0;
        _epoch = stored.Record.Epoch + 1;
        _spec = _status.Spec;
        _options = JobOptions.Build(_spec);
        _status = _status with
        {
            State = JobState.Pending,
            Steps = _options.Steps,
            Coordinator = silo.SiloAddress.ToParsableString(),
            Takeovers = _status.Takeovers + (takeover ? 1 : 0),
            Updated = DateTimeOffset.UtcNow,
        };
        try
        {
            _etag = await records.ReplaceAsync(OwnedRecord(), stored.ETag, cancellationToken);
        }
        catch (BlobConflictException)
        {
            LogTakeOverLost(Id);
            return false;
        }

        if (takeover)
        {
            LogTakenOver(Id, stored.Record.Owner, _status.Step);
        }

        _cancelRequested = false;
        _fenced = false;
        _running = true;
        this.DelayDeactivation(TimeSpan.FromDays(30));
        _ = RunAsync();
        return true;
    }

    public Task ReportStepAsync(StepReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        if (report.Step == _attemptStep && report.Attempt == _attempt)
        {
            _reports[report.WorkerIndex] = report;
            _signal.TrySetResult();
        }

        return Task.CompletedTask;
    }

    private async Task RunAsync()
    {
        var options = _options!;
        var spec = _spec!;
        var bucketBytes = JobOptions.BucketBytes(spec);
        var clock = Stopwatch.StartNew();
        var budget = options.Minutes is { } minutes ? TimeSpan.FromMinutes(minutes) : (TimeSpan?)null;
        long? startVersion = null;
        var resumed = _status!.Step > 0;
        var needSetup = true;
        var failures = 0;
        var setupFailures = 0;
        double? smoothed = null;
        List<string> committedBy = [];
        var stop = "all steps done";
        try
        {
            while (true)
            {
                if (_cancelRequested)
                {
                    stop = "cancelled";
                    break;
                }

                if (_fenced)
                {
                    // Another coordinator took the job's record over: it goes on from the latest checkpoint.
                    return;
                }

                // The job's first step waits for the workers the spec asks for; later steps, and a job taken over after
                // its coordinator's silo died, go on with the live ones.
                var workers = LiveWorkers(spec.Workers);
                if (workers.Count == 0 || (startVersion is null && !resumed && workers.Count < (spec.Workers ?? 1)))
                {
                    await WaitAsync(TimeSpan.FromSeconds(1));
                    continue;
                }

                if (needSetup)
                {
                    try
                    {
                        await SetUpReducersAsync(workers, spec, bucketBytes);
                    }
                    catch (Exception e) when (e is OrleansException or TimeoutException or InvalidOperationException && ++setupFailures <= MaxSetupFailures)
                    {
                        // Membership views differ for a moment after a silo joins or dies: try again with a fresh view.
                        LogSetUpRetry(Id, setupFailures, e);
                        await WaitAsync(TimeSpan.FromSeconds(1));
                        continue;
                    }

                    setupFailures = 0;
                    needSetup = false;
                    startVersion ??= _version;
                    committedBy = [];
                    _recent.Clear();
                    clock.Restart();
                }

                if (_version >= options.Steps)
                {
                    break;
                }

                if (budget is { } limit && clock.Elapsed >= limit)
                {
                    stop = "time budget reached";
                    break;
                }

                var active = workers.Take(Math.Min(workers.Count, options.BatchSize)).ToList();
                using var stepSpan = UNetTelemetry.StartStep(Id, _version);
                var outcome = await RunStepAsync(active, options, spec, bucketBytes, clock.Elapsed, budget);
                if (outcome is null)
                {
                    failures = 0;
                    var reports = _reports.Values.OrderBy(r => r.WorkerIndex).ToList();
                    var loss = reports.Sum(r => r.Loss * r.Samples) / reports.Sum(r => r.Samples);
                    smoothed = smoothed is { } s ? (0.9 * s) + (0.1 * loss) : loss;
                    _version++;
                    committedBy = active;
                    var done = _version - startVersion!.Value;
                    _recent.Enqueue((clock.Elapsed, options.BatchSize));
                    while (_recent.Count > JobStatus.RecentWindow + 1)
                    {
                        _recent.Dequeue();
                    }

                    var recent = _recent.Count > 1
                        ? _recent.Skip(1).Sum(r => r.Tiles) / Math.Max((_recent.Last().At - _recent.Peek().At).TotalSeconds, 1e-9)
                        : 0;
                    _status = _status! with
                    {
                        State = JobState.Running,
                        Step = _version,
                        Loss = loss,
                        SmoothedLoss = smoothed,
                        Workers = active,
                        Elapsed = clock.Elapsed,
                        TilesPerSecond = done * options.BatchSize / Math.Max(clock.Elapsed.TotalSeconds, 1e-9),
                        RecentTilesPerSecond = recent,
                        BytesPerWorkerStep = (long)reports.Average(r => r.BytesSent + r.BytesReceived),
                        ComputeSeconds = reports.Max(r => r.ComputeTime.TotalSeconds),
                        SyncSeconds = reports.Max(r => r.SyncTime.TotalSeconds),
                        StepSeconds = _stepSeconds,
                        OpenSeconds = _openSeconds,
                    };
                    UNetTelemetry.StepCommitted(GrainFactory, _status, reports);
                    if (_version % options.CheckpointEvery == 0)
                    {
                        await CheckpointAsync(committedBy, spec, bucketBytes, smoothed);
                    }

                    await PublishAsync(force: false);
                    continue;
                }

                failures++;
                _status = _status! with { RecomputedSteps = _status.RecomputedSteps + 1 };
                LogRecompute(Id, _version, outcome);
                UNetTelemetry.StepRecomputed(Id);
                if (failures > MaxFailuresPerStep)
                {
                    throw new InvalidOperationException($"Step {_version} failed {failures} times; the last error: {outcome}");
                }

                if (!await ReducersIntactAsync())
                {
                    needSetup = true;
                    _status = _status with { Restores = _status.Restores + 1 };
                }

                await PublishAsync(force: true);
            }

            if (_version > 0 && _status!.CheckpointStep != _version && committedBy.Count > 0)
            {
                await FinalCheckpointAsync(committedBy, spec, bucketBytes, smoothed);
            }

            _status = _status! with { State = stop == "cancelled" ? JobState.Cancelled : JobState.Completed, StopReason = stop, Elapsed = clock.Elapsed };
        }
        catch (Exception e)
        {
            LogFailed(Id, e);
            _status = _status! with { State = JobState.Failed, Error = e.Message, StopReason = "failed" };
        }
        finally
        {
            _running = false;
        }

        if (_fenced)
        {
            return;
        }

        await ReleaseAsync(spec);
        await PublishFinalAsync();
    }

    /// <summary>Runs one attempt of the open step. Null when it committed; otherwise why it must be recomputed.</summary>
    private async Task<string?> RunStepAsync(List<string> active, TrainingOptions options, JobSpec spec, int bucketBytes, TimeSpan elapsed, TimeSpan? budget)
    {
        var tiles = ParameterShards.AssignTiles(options.BatchSize, active.Count);
        var progress = Math.Max((double)_version / options.Steps, budget is { } total ? elapsed / total : 0);
        var learningRate = options.LearningRateAt(progress);
        _attemptStep = _version;
        _attempt++;
        _reports.Clear();
        var clock = Stopwatch.StartNew();
        try
        {
            await Task.WhenAll(_reducers.Select(r => GrainFactory.GetGrain<IReducerGrain>(r).OpenStepAsync(_version, _attempt, active.Count, learningRate))).WaitAsync(CheckTimeout);
            await Task.WhenAll(active.Select((w, i) => GrainFactory.GetGrain<IWorkerGrain>(w).StartStepAsync(
                new StepPlan(Id, spec, _version, _attempt, i, tiles[i], _reducers, bucketBytes)))).WaitAsync(CheckTimeout);
        }
        catch (Exception e) when (e is OrleansException or TimeoutException or InvalidOperationException)
        {
            return $"opening the step failed: {e.Message}";
        }

        _openSeconds = clock.Elapsed.TotalSeconds;
        while (true)
        {
            if (_reports.Values.FirstOrDefault(r => r.Error is not null) is { } failed)
            {
                return $"worker {failed.Worker} failed: {failed.Error}";
            }

            if (_reports.Count == active.Count)
            {
                _stepSeconds = clock.Elapsed.TotalSeconds;
                return null;
            }

            var alive = ActiveSilos();
            if (active.FirstOrDefault(w => !alive.Contains(SiloBoundPlacement.SiloOf(w))) is { } lost)
            {
                return $"worker {lost} left the cluster";
            }

            if (clock.Elapsed > StepTimeout)
            {
                return $"no report within {StepTimeout.TotalMinutes} minutes";
            }

            await WaitAsync(Poll);
        }
    }

    private async Task SetUpReducersAsync(List<string> workers, JobSpec spec, int bucketBytes)
    {
        var old = _reducers;
        _generation++;
        var silos = workers.Select(SiloBoundPlacement.SiloOf).ToList();
        var count = spec.Reducers ?? workers.Count;
        _reducers = Enumerable.Range(0, count).Select(k => SiloBoundPlacement.Key($"{Id}/{_epoch}.{_generation}/{k}", silos[k % silos.Count])).ToList();
        var result = await GrainFactory.GetGrain<IWorkerGrain>(workers[0]).RestoreAsync(new RestorePlan(Id, spec, _reducers, bucketBytes));
        _version = result.Version;
        _status = _status! with { Step = _version, Parameters = result.Parameters, CheckpointStep = result.Checkpoint is null ? _status.CheckpointStep : _version, Checkpoint = result.Checkpoint ?? _status.Checkpoint };
        LogSetUp(Id, _reducers.Count, _version, workers.Count);
        await ReleaseReducersAsync(old);
    }

    private async Task<bool> ReducersIntactAsync()
    {
        var alive = ActiveSilos();
        if (_reducers.Any(r => !alive.Contains(SiloBoundPlacement.SiloOf(r))))
        {
            return false;
        }

        try
        {
            var states = await Task.WhenAll(_reducers.Select(r => GrainFactory.GetGrain<IReducerGrain>(r).GetStateAsync())).WaitAsync(CheckTimeout);
            return states.All(s => s.Ready && (s.Version == _version || s.Version == _version + 1));
        }
        catch (Exception e) when (e is OrleansException or TimeoutException or InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>
    /// Has the first worker snapshot the committed step and upload it in the background. Training goes on meanwhile;
    /// the status shows the newest written checkpoint and any failing uploads (retried by the worker).
    /// </summary>
    private async Task<CheckpointResult?> CheckpointAsync(List<string> workers, JobSpec spec, int bucketBytes, double? loss, bool wait = false)
    {
        try
        {
            var result = await GrainFactory.GetGrain<IWorkerGrain>(workers[0]).WriteCheckpointAsync(new CheckpointPlan(Id, spec, _version, _reducers, bucketBytes, loss, wait));
            if (result.WrittenStep is { } written && written != _status!.CheckpointStep)
            {
                // Metrics and the dashboard's list: a newly written checkpoint, its size and how long it held training.
                UNetTelemetry.CheckpointWritten(GrainFactory, Id, written, result.Written!, result.WrittenBytes, TimeSpan.FromSeconds(result.SnapshotSeconds));
            }

            _status = _status! with
            {
                CheckpointRequestedStep = result.Requested,
                CheckpointStep = result.WrittenStep ?? _status.CheckpointStep,
                Checkpoint = result.Written ?? _status.Checkpoint,
                CheckpointBytes = result.WrittenStep is null ? _status.CheckpointBytes : result.WrittenBytes,
                CheckpointFailures = result.FailedAttempts,
                CheckpointError = result.LastError,
                CheckpointStallSeconds = result.SnapshotSeconds,
            };
            return result;
        }
        catch (Exception e) when (e is OrleansException or TimeoutException or InvalidOperationException or IOException)
        {
            LogCheckpointFailed(Id, _version, e);
            return null;
        }
    }

    /// <summary>
    /// The job's last checkpoint must be written before the job counts as finished: asks again (the worker re-uses the
    /// snapshot it holds) until the upload has landed, for at most <see cref="FinalCheckpointPatience"/>.
    /// </summary>
    private async Task FinalCheckpointAsync(List<string> workers, JobSpec spec, int bucketBytes, double? loss)
    {
        var deadline = DateTime.UtcNow + FinalCheckpointPatience;
        while (true)
        {
            var result = await CheckpointAsync(workers, spec, bucketBytes, loss, wait: true);
            if (result?.WrittenStep == _version)
            {
                return;
            }

            await PublishAsync(force: false);
            if (DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException(
                    $"The final checkpoint (step {_version}) was not written within {FinalCheckpointPatience.TotalMinutes} minutes: {result?.LastError ?? "the worker did not answer"}.");
            }

            await WaitAsync(TimeSpan.FromSeconds(2));
        }
    }

    private async Task ReleaseAsync(JobSpec spec)
    {
        foreach (var worker in LiveWorkers(spec.Workers))
        {
            try
            {
                await GrainFactory.GetGrain<IWorkerGrain>(worker).ReleaseAsync(Id).WaitAsync(CheckTimeout);
            }
            catch (Exception e) when (e is OrleansException or TimeoutException)
            {
                LogReleaseFailed(Id, worker, e);
            }
        }

        await ReleaseReducersAsync(_reducers);
    }

    private async Task ReleaseReducersAsync(List<string> reducers)
    {
        var alive = ActiveSilos();
        foreach (var reducer in reducers.Where(r => alive.Contains(SiloBoundPlacement.SiloOf(r))))
        {
            try
            {
                await GrainFactory.GetGrain<IReducerGrain>(reducer).ReleaseAsync().WaitAsync(CheckTimeout);
            }
            catch (Exception e) when (e is OrleansException or TimeoutException)
            {
                LogReleaseFailed(Id, reducer, e);
            }
        }
    }

    /// <summary>The worker keys of the active silos in a stable order, at most <paramref name="limit"/>.</summary>
    private List<string> LiveWorkers(int? limit) =>
        ActiveSilos().Select(s => SiloBoundPlacement.Key("worker", s)).Order(StringComparer.Ordinal).Take(limit ?? int.MaxValue).ToList();

    private HashSet<SiloAddress> ActiveSilos() =>
        membership.CurrentSnapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress).ToHashSet();

    /// <summary>Waits for a report or a cancel, at most <paramref name="timeout"/>.</summary>
    private async Task WaitAsync(TimeSpan timeout)
    {
        var signal = _signal;
        await Task.WhenAny(signal.Task, Task.Delay(timeout));
        if (signal.Task.IsCompleted)
        {
            _signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    /// <summary>
    /// Writes the status into the job's record, at most once a second unless forced. A conflict means another
    /// coordinator owns the job now: this one stops. Storage being unreachable is reported and does not stop training.
    /// </summary>
    private async Task PublishAsync(bool force) => await TryPublishAsync(force);

    /// <summary>True when the status was written (or another coordinator owns the record).</summary>
    private async Task<bool> TryPublishAsync(bool force)
    {
        var now = DateTimeOffset.UtcNow;
        if (_fenced || (!force && now - _published < TimeSpan.FromSeconds(1)))
        {
            return _fenced;
        }

        _published = now;
        _status = _status! with { Updated = now };
        try
        {
            _etag = await records.ReplaceAsync(OwnedRecord(), _etag!);
            return true;
        }
        catch (BlobConflictException)
        {
            LogFenced(Id);
            _fenced = true;
            _signal.TrySetResult();
            return true;
        }
        catch (Exception e) when (e is IOException or Azure.RequestFailedException or TimeoutException or OperationCanceledException)
        {
            LogPublishFailed(Id, e);
            return false;
        }
    }

    /// <summary>The record as this activation owns it: its status, its owner tag (silo, activation, epoch) and epoch.</summary>
    private JobRecord OwnedRecord() => new(_status!, $"{silo.SiloAddress.ToParsableString()}#{this.GetGrainId()}#{_epoch}", _epoch);

    /// <summary>The final state must reach the record, or a later activation would resume a finished job: retried with backoff.</summary>
    private async Task PublishFinalAsync()
    {
        for (var attempt = 0; !await TryPublishAsync(force: true); attempt++)
        {
            await Task.Delay(TimeSpan.FromSeconds(Math.Min(30, 1 << Math.Min(attempt, 5))));
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: publishing its status failed")]
    private partial void LogPublishFailed(string jobId, Exception exception);
}
