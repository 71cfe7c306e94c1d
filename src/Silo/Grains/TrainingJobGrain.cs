using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using UNetCluster.Contracts.Grains;
using UNetCluster.Contracts.Jobs;
using UNetCluster.Contracts.Messages;
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
/// </summary>
public sealed partial class TrainingJobGrain(IClusterMembershipService membership, ILocalSiloDetails silo, ILogger<TrainingJobGrain> logger) : Grain, ITrainingJobGrain
{
    private const int MaxFailuresPerStep = 5;
    private const int MaxSetupFailures = 120;
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan StepTimeout = TimeSpan.FromMinutes(15);

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

    private string Id => this.GetPrimaryKeyString();

    public async Task StartAsync(JobSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (_status is { IsFinished: false })
        {
            if (_spec == spec)
            {
                return;
            }

            throw new InvalidOperationException($"Job {Id} is already running with another spec.");
        }

        _spec = spec;
        _options = JobOptions.Build(spec);
        _cancelRequested = false;
        var now = DateTimeOffset.UtcNow;
        _status = new JobStatus { Id = Id, Spec = spec, State = JobState.Pending, Steps = _options.Steps, Created = now, Updated = now, Coordinator = silo.SiloAddress.ToParsableString() };
        this.DelayDeactivation(TimeSpan.FromDays(30));
        await PublishAsync(force: true);
        _ = RunAsync();
    }

    public async Task<JobStatus> GetStatusAsync()
    {
        if (_status is not null)
        {
            return _status;
        }

        // Not this activation's job. Either the id was never submitted, or the grain directory lost this grain's
        // entry with a dead silo and this is a second activation while the first still runs the job: the registry
        // holds the status the running coordinator publishes every second.
        DeactivateOnIdle();
        var published = (await GrainFactory.GetGrain<IJobRegistryGrain>(0).ListAsync()).FirstOrDefault(j => j.Id == Id);
        return published ?? throw new KeyNotFoundException($"job '{Id}' is unknown: 'unet list' shows the cluster's jobs.");
    }

    public Task<JobStatus> CancelAsync()
    {
        if (_status is null)
        {
            DeactivateOnIdle();
            throw new KeyNotFoundException($"job '{Id}' is unknown: 'unet list' shows the cluster's jobs.");
        }

        var status = _status;
        if (!status.IsFinished)
        {
            _cancelRequested = true;
            _signal.TrySetResult();
        }

        return Task.FromResult(status);
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

                // The first step waits for the workers the spec asks for; later steps go on with the live ones.
                var workers = LiveWorkers(spec.Workers);
                if (workers.Count == 0 || (startVersion is null && workers.Count < (spec.Workers ?? 1)))
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
                await CheckpointAsync(committedBy, spec, bucketBytes, smoothed);
            }

            _status = _status! with { State = stop == "cancelled" ? JobState.Cancelled : JobState.Completed, StopReason = stop, Elapsed = clock.Elapsed };
        }
        catch (Exception e)
        {
            LogFailed(Id, e);
            _status = _status! with { State = JobState.Failed, Error = e.Message, StopReason = "failed" };
        }

        await ReleaseAsync(spec);
        await PublishAsync(force: true);
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
        _reducers = Enumerable.Range(0, count).Select(k => SiloBoundPlacement.Key($"{Id}/{_generation}/{k}", silos[k % silos.Count])).ToList();
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

    private async Task CheckpointAsync(List<string> workers, JobSpec spec, int bucketBytes, double? loss)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            var path = await GrainFactory.GetGrain<IWorkerGrain>(workers[0]).WriteCheckpointAsync(new CheckpointPlan(Id, spec, _version, _reducers, bucketBytes, loss));
            _status = _status! with { CheckpointStep = _version, Checkpoint = path };
            UNetTelemetry.CheckpointWritten(GrainFactory, Id, _version, path, Stopwatch.GetElapsedTime(started));
        }
        catch (Exception e) when (e is OrleansException or TimeoutException or InvalidOperationException or IOException)
        {
            LogCheckpointFailed(Id, _version, e);
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

    private async Task PublishAsync(bool force)
    {
        var now = DateTimeOffset.UtcNow;
        if (!force && now - _published < TimeSpan.FromSeconds(1))
        {
            return;
        }

        _published = now;
        _status = _status! with { Updated = now };
        try
        {
            await GrainFactory.GetGrain<IJobRegistryGrain>(0).UpdateAsync(_status);
        }
        catch (Exception e) when (e is OrleansException or TimeoutException)
        {
            LogPublishFailed(Id, e);
        }
    }

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
