using System.Diagnostics;
using Microsoft.Extensions.Logging;
using UNetCluster.Contracts.Jobs;
using UNetCluster.Contracts.Messages;
using UNetCluster.Model;
using UNetCluster.Model.Distributed;
using UNetCluster.Model.Training;
using UNetCluster.Training.Jobs;

namespace UNetCluster.Training.Coordination;

/// <summary>
/// A job's step loop (DESIGN.md, "A training step"). For step s it takes the live workers in a stable order, assigns
/// them the step's tiles, opens the step on every reducer, starts the workers, and commits s once every worker has
/// reported (each has pulled the parameters every reducer produced). A lost worker or a refused gradient makes it
/// recompute s with a new attempt over the survivors; when a reducer's state is lost, every reducer is set up again
/// from the latest checkpoint. It only sends messages and waits, and is not thread-safe: the coordinator grain runs it
/// in its own context (so no await here leaves that context), and its turns call <see cref="Report"/> and
/// <see cref="Cancel"/>.
/// </summary>
public sealed partial class StepLoop : IJobLoop
{
    private const int MaxFailuresPerStep = 5;
    private const int MaxSetupFailures = 120;
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan StateTimeout = TimeSpan.FromSeconds(3);      // a reducer's state, while waiting for membership to settle
    private static readonly TimeSpan SettleTimeout = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan StepTimeout = TimeSpan.FromMinutes(15);
    private static readonly TimeSpan FinalCheckpointPatience = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan WaitingHeartbeat = TimeSpan.FromSeconds(30);   // well within JobKeeper's silence

    private readonly string _jobId;
    private readonly JobSpec _spec;
    private readonly TrainingOptions _options;
    private readonly int _bucketBytes;
    private readonly JobLease _lease;
    private readonly IJobCluster _cluster;
    private readonly ILogger _logger;
    private readonly StepLoopLimits _limits;
    private readonly Stopwatch _waitingPublished = new();                 // since a waiting job last wrote its record
    private readonly Dictionary<int, StepReport> _reports = [];          // the open attempt's reports, by worker index
    private readonly StepStatistics _statistics = new();
    private readonly Stopwatch _clock = new();                            // since the reducers were last set up
    private TimeSpan _validating;                                         // of _clock, the time spent validating
    private TimeSpan _trainedBefore;                                      // the job's training time when _clock started
    private TaskCompletionSource _signal = new(TaskCreationOptions.RunContinuationsAsynchronously);   // a report, a cancel or fencing
    private List<string> _reducers = [];                                 // the reducer keys, by shard
    private List<string> _committedBy = [];                              // the workers of the last committed step
    private int _generation;                                             // reducer set-ups by this coordinator
    private int _setupFailures;                                          // failed set-ups in a row
    private long _version;                                               // steps applied
    private (long Step, int Attempt) _open = (-1, 0);                    // the attempt whose reports count
    private bool _cancelRequested;

    public StepLoop(string jobId, JobLease lease, IJobCluster cluster, ILogger logger, StepLoopLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(lease);
        _limits = limits ?? StepLoopLimits.Default;
        _jobId = jobId;
        _lease = lease;
        _cluster = cluster;
        _logger = logger;
        _spec = lease.Status!.Spec;
        _options = JobOptions.Build(_spec);
        _bucketBytes = JobOptions.BucketBytes(_spec);
        _lease.FencedOff += () => _signal.TrySetResult();

        // Attempts numbered from a base of the coordinator's epoch: a coordinator that adopts its predecessor's reducers
        // must never open an attempt number the one before used, or the reducers would keep that attempt's buckets.
        _open = (-1, checked((int)(_lease.Epoch % 500) * 4_000_000));
    }

    /// <summary>
    /// Time spent training over the job's life: the training time at the last committed step before the reducers were
    /// last set up (or adopted), plus the loop's clock since then less its validations. So the budget (<c>--minutes</c>)
    /// and the schedule's progress carry on across take-overs and restores, and do not depend on how often the job
    /// validates. A coordinator that takes over counts on from the training time its predecessor last published.
    /// </summary>
    private TimeSpan TrainingTime => _trainedBefore + TrainingSinceStart;

    /// <summary>The training time since the reducers were last set up; the throughput is measured on it.</summary>
    private TimeSpan TrainingSinceStart => _clock.Elapsed - _validating;

    /// <summary>True once the job's time budget (<c>--minutes</c>) has run out on the training time.</summary>
    private bool BudgetReached => _options.Minutes is { } minutes && TrainingTime >= TimeSpan.FromMinutes(minutes);

    private JobStatus Status
    {
        get => _lease.Status!;
        set => _lease.Status = value;
    }

    /// <summary>Takes a worker's report of the open attempt; reports of older attempts are dropped.</summary>
    public void Report(StepReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        if ((report.Step, report.Attempt) == _open)
        {
            _reports[report.WorkerIndex] = report;
            _signal.TrySetResult();
        }
    }

    /// <summary>Stops at the next step boundary, with a checkpoint.</summary>
    public void Cancel()
    {
        _cancelRequested = true;
        _signal.TrySetResult();
    }

    /// <summary>Runs the job to its end and publishes its final state; returns early, publishing nothing, when fenced.</summary>
    public async Task RunAsync()
    {
        string stop;
        try
        {
            stop = await TrainAsync();
            if (stop.Length == 0)
            {
                return;   // fenced: another coordinator goes on from the latest checkpoint
            }

            if (_version > 0 && Status.CheckpointStep != _version && _committedBy.Count > 0)
            {
                await FinalCheckpointAsync();
            }

            Status = Status with { State = stop == "cancelled" ? JobState.Cancelled : JobState.Completed, StopReason = stop, Elapsed = _clock.Elapsed };
        }
        catch (Exception e)
        {
            LogFailed(_jobId, e);
            Status = Status with { State = JobState.Failed, Error = e.Message, StopReason = "failed" };
        }

        if (_lease.Fenced)
        {
            return;
        }

        await ReleaseAsync();
        await _lease.PublishFinalAsync();
    }

    /// <summary>Steps until the job is done; why it stopped, or "" when fenced.</summary>
    private async Task<string> TrainAsync()
    {
        if (Status.TakeoversWithoutStep > _limits.MaxTakeoversWithoutStep)
        {
            throw new InvalidOperationException(
                $"The job was taken over {Status.TakeoversWithoutStep} times without committing a step (at most {_limits.MaxTakeoversWithoutStep} are allowed): " +
                $"the silos coordinating it keep leaving the cluster, perhaps killed for their memory; it is failed instead of resumed at step {Status.Step} again.");
        }

        var resumed = Status.Step > 0;
        var started = false;
        var needSetup = true;
        var failures = 0;
        while (true)
        {
            if (_cancelRequested || _lease.Fenced)
            {
                return _lease.Fenced ? string.Empty : "cancelled";
            }

            // The job's first step waits for the workers the spec asks for; later steps, and a job taken over after
            // its coordinator's silo died, go on with the live ones.
            var workers = _cluster.LiveWorkers(_spec.Workers);
            var needed = !started && !resumed ? _spec.Workers ?? 1 : 1;
            if (workers.Count < needed)
            {
                await ShowWaitingAsync($"waiting for {needed} worker{(needed == 1 ? "" : "s")}, {workers.Count} live");
                await WaitAsync(TimeSpan.FromSeconds(1));
                continue;
            }

            if (Status.Waiting is not null)
            {
                Status = Status with { Waiting = null };
            }

            RequireStepFitsMemory(Math.Min(workers.Count, _options.BatchSize));
            if (needSetup)
            {
                needSetup = !(await TryAdoptAsync() || await TrySetUpReducersAsync(workers));
                started |= !needSetup;
                continue;
            }

            await MaintainCopiesAsync(workers);

            if (_version >= _options.Steps)
            {
                return "all steps done";
            }

            if (_earlyStop is { } earlyStop)
            {
                return earlyStop;
            }

            if (BudgetReached)
            {
                return "time budget reached";
            }

            var active = workers.Take(Math.Min(workers.Count, _options.BatchSize)).ToList();
            using var span = _cluster.StartStep(_version);
            var failure = await RunStepAsync(active);
            failures = failure is null ? 0 : failures + 1;
            if (failure is null)
            {
                await CommitAsync(active);
                continue;
            }

            needSetup = await RecomputeAsync(failure, failures);
        }
    }

    /// <summary>
    /// Shows why the job waits in its status (and so in <c>unet status</c>, the REST API and the dashboard), and keeps
    /// its record fresh while it waits, so that no keeper takes a live coordinator's silence for its death.
    /// </summary>
    private async Task ShowWaitingAsync(string reason)
    {
        if (Status.Waiting == reason && _waitingPublished.IsRunning && _waitingPublished.Elapsed < WaitingHeartbeat)
        {
            return;
        }

        Status = Status with { Waiting = reason };
        await _lease.PublishAsync(force: true);
        _waitingPublished.Restart();
    }

    /// <summary>
    /// Fails the job, before its workers allocate anything, when a worker's share of a step would not fit a node's
    /// memory (<see cref="MemoryEstimate.TrainingStepBytes"/>): a silo killed for its memory takes everything on it down.
    /// </summary>
    private void RequireStepFitsMemory(int workers)
    {
        var perWorker = (_options.BatchSize + workers - 1) / workers;
        var needs = MemoryEstimate.TrainingStepBytes(_options.Model, _options.TileSize, perWorker);
        var available = _limits.MemoryBytes ?? MemoryEstimate.AvailableBytes();
        if (needs > available)
        {
            throw new InvalidOperationException(
                $"A training step needs about {MemoryEstimate.Describe(needs)} per worker ({perWorker} tile(s) of {_options.TileSize} px each, " +
                $"{_options.Model.BaseChannels} base channels, depth {_options.Model.Depth}), more than the {MemoryEstimate.Describe(available)} a node has; " +
                "expected a smaller --tile or --batch, fewer --base-channels, or more workers.");
        }
    }

    /// <summary>Runs one attempt of the open step. Null when it committed; otherwise why it must be recomputed.</summary>
    private async Task<string?> RunStepAsync(List<string> active)
    {
        var tiles = ParameterShards.AssignTiles(_options.BatchSize, active.Count);
        var learningRate = _options.LearningRateAt(_options.ScheduleProgress(_version, TrainingTime));
        _open = (_version, _open.Attempt + 1);
        _reports.Clear();
        var clock = Stopwatch.StartNew();
        try
        {
            await Task.WhenAll(_reducers.Select(r => _cluster.OpenStepAsync(r, _version, _open.Attempt, active.Count, learningRate))).WaitAsync(CheckTimeout);
            await Task.WhenAll(active.Select((w, i) => _cluster.StartStepAsync(w,
                new StepPlan(_jobId, _spec, _version, _open.Attempt, i, tiles[i], _reducers, _bucketBytes)))).WaitAsync(CheckTimeout);
        }
        catch (Exception e) when (IsCallFailure(e))
        {
            return $"opening the step failed: {e.Message}";
        }

        var openSeconds = clock.Elapsed.TotalSeconds;
        while (true)
        {
            if (_reports.Values.FirstOrDefault(r => r.Error is not null) is { } failed)
            {
                return $"worker {failed.Worker} (tiles {string.Join(", ", tiles[failed.WorkerIndex])}) failed: {failed.Error}";
            }

            if (_reports.Count == active.Count)
            {
                Status = Status with { OpenSeconds = openSeconds, StepSeconds = clock.Elapsed.TotalSeconds };
                return null;
            }

            if (active.FirstOrDefault(w => !_cluster.IsAlive(w)) is { } lost)
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

    /// <summary>Step <see cref="_version"/> committed: the status, the metrics and history, a checkpoint when due.</summary>
    private async Task CommitAsync(List<string> active)
    {
        var reports = _reports.Values.OrderBy(r => r.WorkerIndex).ToList();
        _version++;
        _committedBy = active;
        Status = _statistics.Commit(Status, _version, _options.BatchSize, reports, active, TrainingSinceStart, Status.OpenSeconds, Status.StepSeconds)
            with { Elapsed = _clock.Elapsed, TrainingTime = TrainingTime, TakeoversWithoutStep = 0 };
        _cluster.StepCommitted(Status, reports);
        var last = _version >= _options.Steps || BudgetReached;
        var best = ValidationDue(last) ? await ValidateAsync(active) : null;
        if (best is not null || _version % _options.CheckpointEvery == 0)
        {
            await CheckpointAsync(wait: false);
        }

        await _lease.PublishAsync(force: false);
    }

    /// <summary>The open step failed: counts it, and says whether the reducers must be set up again (their state is lost).</summary>
    private async Task<bool> RecomputeAsync(string failure, int failures)
    {
        Status = Status with { RecomputedSteps = Status.RecomputedSteps + 1, LastRecompute = $"step {_version}: {failure}" };
        LogRecompute(_jobId, _version, failure);
        _cluster.StepRecomputed();
        if (failures > MaxFailuresPerStep)
        {
            throw new InvalidOperationException($"Step {_version} failed {failures} times; the last error: {failure}");
        }

        var intact = await ReducersRecoveredAsync();
        if (!intact)
        {
            Status = Status with { Restores = Status.Restores + 1 };
        }

        await _lease.PublishAsync(force: true);
        return !intact;
    }

    /// <summary>
    /// Sets a new generation of reducers up over the workers' silos, restored by the first worker from the latest
    /// checkpoint, and releases the old ones. False (after a pause) when it failed: membership views differ for a
    /// moment after a silo joins or dies, so it is tried again with a fresh view.
    /// </summary>
    private async Task<bool> TrySetUpReducersAsync(IReadOnlyList<string> workers)
    {
        var old = _reducers;
        _generation++;
        var count = _spec.Reducers ?? workers.Count;
        _reducers = [.. Enumerable.Range(0, count).Select(k => SiloKeys.Key($"{_jobId}/{_lease.Epoch}.{_generation}/{k}", SiloKeys.SiloOf(workers[k % workers.Count])))];
        try
        {
            var result = await _cluster.RestoreAsync(workers[0], new RestorePlan(_jobId, _spec, _reducers, _bucketBytes));
            _version = result.Version;
            Status = Status with
            {
                Step = _version,
                Parameters = result.Parameters,
                CheckpointStep = result.Checkpoint is null ? Status.CheckpointStep : _version,
                Checkpoint = result.Checkpoint ?? Status.Checkpoint,
            };
        }
        catch (Exception e) when (IsCallFailure(e) && ++_setupFailures <= MaxSetupFailures)
        {
            LogSetUpRetry(_jobId, _setupFailures, e);
            await WaitAsync(TimeSpan.FromSeconds(1));
            return false;
        }

        _setupFailures = 0;
        LogSetUp(_jobId, _reducers.Count, _version, workers.Count);
        // A coordinator that could not adopt its predecessor's reducers releases them (their keys are in the record).
        var released = old.Count > 0 ? [.. old, .. _copies] : Status.Reducers.Concat(Status.ReducerCopies).ToList();
        await ReleaseReducersAsync([.. released.Where(r => r.Length > 0 && !_reducers.Contains(r))]);
        _copies = [.. _reducers.Select(_ => string.Empty)];
        Status = WithReducers(Status);
        StartCounting();
        return true;
    }

    /// <summary>The reducers are new or adopted: the statistics, the clock and its validation time start again.</summary>
    private void StartCounting()
    {
        _committedBy = [];
        _statistics.Restart();
        _clock.Restart();
        _validating = TimeSpan.Zero;
        _trainedBefore = Status.TrainingTime;
    }

    /// <summary>
    /// Whether every reducer holds the open step or the one after it, once lost reducers are replaced by their copies.
    /// With copies, a reducer that does not answer while its silo is still a member is waited for (up to
    /// <see cref="SettleTimeout"/>): a worker often notices a dead silo (a refused connection) seconds before membership
    /// declares it dead, and going back to a checkpoint then would throw away what the copy holds.
    /// </summary>
    private async Task<bool> ReducersRecoveredAsync()
    {
        var settle = Stopwatch.StartNew();
        while (true)
        {
            PromoteCopies();
            var intact = await ReducersIntactAsync();
            if (intact is not null || !CopiesOn || settle.Elapsed > SettleTimeout || _cancelRequested || _lease.Fenced)
            {
                return intact == true;
            }

            await WaitAsync(TimeSpan.FromSeconds(1));
        }
    }

    /// <summary>True when every reducer answers holding the open step or the one after it; false when one is lost; null when one did not answer.</summary>
    private async Task<bool?> ReducersIntactAsync()
    {
        if (_reducers.Any(r => !_cluster.IsAlive(r)))
        {
            return false;
        }

        try
        {
            var states = await Task.WhenAll(_reducers.Select(_cluster.GetReducerStateAsync)).WaitAsync(CopiesOn ? StateTimeout : CheckTimeout);
            return states.All(s => s.Ready && (s.Version == _version || s.Version == _version + 1));
        }
        catch (Exception e) when (IsCallFailure(e))
        {
            return null;
        }
    }
}
