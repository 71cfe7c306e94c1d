using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using UNetCluster.Contracts.Grains;
using UNetCluster.Contracts.Messages;
using UNetCluster.Silo.Telemetry;
using UNetCluster.Training;
using UNetCluster.Training.Jobs;
using UNetCluster.Training.Worker;

namespace UNetCluster.Silo.Engines;

/// <summary>
/// The silo's training engine: a queue that runs, one at a time and outside any grain turn, the work the worker grain
/// hands it: a step (<see cref="StepRunner"/>), a restore (<see cref="Restorer"/>) and a checkpoint
/// (<see cref="CheckpointCapture"/>), on the replicas of the jobs this silo works on. A newer attempt of a job's step,
/// or a restore, supersedes an older attempt still queued or running.
/// </summary>
public sealed partial class WorkerEngine : BackgroundService
{
    private readonly Channel<Func<CancellationToken, Task>> _queue = Channel.CreateUnbounded<Func<CancellationToken, Task>>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<string, (long Step, int Attempt)> _latest = new(StringComparer.Ordinal);   // the attempt to run, by job
    private readonly ConcurrentDictionary<string, (long Version, Task<ValidationReport> Report)> _validations = new(StringComparer.Ordinal);   // by job
    private readonly ConcurrentDictionary<string, JobUnits> _units = new(StringComparer.Ordinal);   // a prediction job's units here, by job
    private readonly IGrainFactory _grains;
    private readonly ReplicaSet _replicas;
    private readonly StepRunner _steps;
    private readonly Restorer _restorer;
    private readonly CheckpointCapture _checkpoints;
    private readonly Validator _validator;
    private readonly UnitRunner _unitRunner;
    private readonly ILogger<WorkerEngine> _logger;
    private readonly string _device;   // what the silo's replicas compute on, and why (UNetCluster:Worker:Device)

    public WorkerEngine(
        IGrainFactory grains, ILocalSiloDetails silo, DataCatalog catalog, TorchThread torch, StepRunner steps, Restorer restorer,
        CheckpointCapture checkpoints, Validator validator, UnitRunner unitRunner, ILogger<WorkerEngine> logger)
    {
        ArgumentNullException.ThrowIfNull(silo);
        _grains = grains;
        WorkerKey = SiloKeys.WorkerKey(silo.SiloAddress);
        _replicas = new ReplicaSet(catalog, torch, silo.SiloAddress.ToString());
        _steps = steps;
        _restorer = restorer;
        _checkpoints = checkpoints;
        _validator = validator;
        _unitRunner = unitRunner;
        _logger = logger;
        _device = torch.Device.Description;
    }

    /// <summary>This silo's worker grain key.</summary>
    public string WorkerKey { get; }

    /// <summary>Queues a step; a newer attempt of the job supersedes any older one still queued or running.</summary>
    public void EnqueueStep(StepPlan plan, ActivityContext parent)
    {
        ArgumentNullException.ThrowIfNull(plan);
        _latest[plan.JobId] = (plan.Step, plan.Attempt);
        _queue.Writer.TryWrite(ct => RunStepAsync(plan, parent, ct));
    }

    /// <summary>
    /// Queues a restore. Every step attempt of the job still queued or running is superseded first: an attempt polling
    /// for parameters that will never come (a worker of it died before sending) would otherwise hold the engine, and
    /// this restore behind it, for ever; a checkpoint still pulling from the old reducers gives up too.
    /// </summary>
    public Task<RestoreResult> RestoreAsync(RestorePlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        _latest[plan.JobId] = (-1, -1);
        _checkpoints.ReducersReplaced(plan.JobId);
        return Enqueue(async ct =>
        {
            await _checkpoints.SettleAsync(plan.JobId, ct).ConfigureAwait(false);
            await _replicas.RemoveAsync(plan.JobId).ConfigureAwait(false);
            var replica = await _replicas.GetAsync(plan.JobId, plan.Spec).ConfigureAwait(false);
            return await _restorer.RestoreAsync(plan, replica, ct).ConfigureAwait(false);
        });
    }

    public Task<CheckpointResult> WriteCheckpointAsync(CheckpointPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        return Enqueue(ct => _checkpoints.CaptureAsync(plan, _replicas.At(plan.JobId, plan.Version), WorkerKey, ct));
    }

    /// <summary>
    /// Queues a validation of the job's replica at the plan's step (it fails when the replica is at another step); its
    /// report waits in <see cref="GetValidationAsync"/>. A job has one validation here at a time: a newer one replaces
    /// an older one nobody collected.
    /// </summary>
    public void StartValidation(ValidationPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var running = Enqueue(ct => _validator.ValidateAsync(plan, _replicas.At(plan.JobId, plan.Version), WorkerKey, ct));
        _validations[plan.JobId] = (plan.Version, running);
    }

    /// <summary>The report of the job's validation at <paramref name="version"/> once done (then forgotten), null while it runs.</summary>
    public async Task<ValidationReport?> GetValidationAsync(string jobId, long version)
    {
        if (!_validations.TryGetValue(jobId, out var validation) || validation.Version != version)
        {
            throw new InvalidOperationException($"worker {WorkerKey} runs no validation of job '{jobId}' at step {version} (its silo may have restarted).");
        }

        if (!validation.Report.IsCompleted)
        {
            return null;
        }

        _validations.TryRemove(new KeyValuePair<string, (long, Task<ValidationReport>)>(jobId, validation));
        return await validation.Report.ConfigureAwait(false);
    }

    /// <summary>
    /// Queues a prediction job's units, each run in turn by the <see cref="UnitRunner"/>; their reports wait in
    /// <see cref="TakeUnitReports"/>. A unit that throws is reported to be handed out again (<see cref="UnitReport.Retry"/>).
    /// </summary>
    public void StartUnits(PredictionPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var units = _units.GetOrAdd(plan.JobId, _ => new JobUnits());
        foreach (var unit in plan.Units)
        {
            Interlocked.Increment(ref units.Pending);
            _queue.Writer.TryWrite(async ct =>
            {
                UnitReport report;
                try
                {
                    report = _units.ContainsKey(plan.JobId)
                        ? await _unitRunner.RunAsync(plan, unit, ct).ConfigureAwait(false)
                        : new UnitReport(unit.Id, [], "the job was released on this worker", Retry: true);
                }
                catch (Exception e) when (!ct.IsCancellationRequested)
                {
                    LogUnitFailed(plan.JobId, unit.Id, e);
                    report = new UnitReport(unit.Id, [], e.Message, Retry: true);
                }

                units.Done.Enqueue(report with { Worker = WorkerKey });
                Interlocked.Decrement(ref units.Pending);
            });
        }
    }

    /// <summary>The job's units finished here since the last call, and how many are still queued or running.</summary>
    public UnitReports TakeUnitReports(string jobId)
    {
        if (!_units.TryGetValue(jobId, out var units))
        {
            throw new InvalidOperationException($"worker {WorkerKey} holds no units of job '{jobId}' (its silo may have restarted).");
        }

        var done = new List<UnitReport>();
        while (units.Done.TryDequeue(out var report))
        {
            done.Add(report);
        }

        return new UnitReports(done, Volatile.Read(ref units.Pending));
    }

    public void Release(string jobId)
    {
        _latest.TryRemove(jobId, out _);
        _validations.TryRemove(jobId, out _);
        _units.TryRemove(jobId, out _);
        _queue.Writer.TryWrite(_ =>
        {
            _unitRunner.Release(jobId);
            _checkpoints.Close(jobId);
            return _replicas.RemoveAsync(jobId);
        });
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        LogDevice(_device);
        await Task.Yield();
        await foreach (var work in _queue.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                await work(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                LogWorkFailed(e);
            }
        }
    }

    public override void Dispose()
    {
        _replicas.Clear();
        base.Dispose();
    }

    private Task<T> Enqueue<T>(Func<CancellationToken, Task<T>> work)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _queue.Writer.TryWrite(async ct =>
        {
            try
            {
                done.SetResult(await work(ct).ConfigureAwait(false));
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        });
        return done.Task;
    }

    private bool IsSuperseded(StepPlan plan) =>
        !_latest.TryGetValue(plan.JobId, out var latest) || latest != (plan.Step, plan.Attempt);

    private async Task RunStepAsync(StepPlan plan, ActivityContext parent, CancellationToken cancellationToken)
    {
        using var span = UNetTelemetry.StartWorkerStep(plan, parent);
        if (IsSuperseded(plan))
        {
            return;
        }

        var report = await _steps.RunAsync(WorkerKey, plan, _replicas, () => IsSuperseded(plan), cancellationToken).ConfigureAwait(false);
        if (report is not null)
        {
            await _grains.GetGrain<ITrainingJobGrain>(plan.JobId).ReportStepAsync(report).ConfigureAwait(false);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "This silo's replicas compute on {Device}")]
    private partial void LogDevice(string device);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Prediction job {JobId}: unit {Unit} failed here; it is handed out again")]
    private partial void LogUnitFailed(string jobId, string unit, Exception exception);

    /// <summary>A prediction job's units on this silo: the reports not collected yet and the units not done.</summary>
    private sealed class JobUnits
    {
        public ConcurrentQueue<UnitReport> Done { get; } = new();

        public int Pending;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "The training engine's work failed")]
    private partial void LogWorkFailed(Exception exception);
}
