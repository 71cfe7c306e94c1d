using UNetCluster.Contracts.Grains;
using UNetCluster.Contracts.Jobs;
using UNetCluster.Contracts.Messages;
using UNetCluster.Silo.Telemetry;
using UNetCluster.Training;
using UNetCluster.Training.Coordination;

namespace UNetCluster.Silo.Coordination;

/// <summary>
/// A job's cluster as its step loop sees it, over Orleans: membership from the silo's view, the worker and reducer
/// grains, the UNetCluster metrics and traces, and the job's history grain (one-way appends).
/// </summary>
internal sealed class OrleansJobCluster(string jobId, IGrainFactory grains, IClusterMembershipService membership) : IJobCluster, IPredictionCluster
{
    public IReadOnlyList<string> LiveWorkers(int? limit) =>
        [.. ActiveSilos().Select(SiloKeys.WorkerKey).Order(StringComparer.Ordinal).Take(limit ?? int.MaxValue)];

    public bool IsAlive(string key) => ActiveSilos().Contains(SiloKeys.SiloOf(key));

    public Task OpenStepAsync(string reducer, long stepIndex, int attempt, int workers, double learningRate) =>
        grains.GetGrain<IReducerGrain>(reducer).OpenStepAsync(stepIndex, attempt, workers, learningRate);

    public Task StartStepAsync(string worker, StepPlan plan) => grains.GetGrain<IWorkerGrain>(worker).StartStepAsync(plan);

    public Task<RestoreResult> RestoreAsync(string worker, RestorePlan plan) => grains.GetGrain<IWorkerGrain>(worker).RestoreAsync(plan);

    public Task<ReducerState> GetReducerStateAsync(string reducer) => grains.GetGrain<IReducerGrain>(reducer).GetStateAsync();

    public Task CopyReducerAsync(string copy, ReducerSetup setup, string source) =>
        grains.GetGrain<IReducerGrain>(copy).CopyFromAsync(setup, source);

    public Task SetReducerCopyAsync(string reducer, string? copy) => grains.GetGrain<IReducerGrain>(reducer).SetCopyAsync(copy);

    public Task<CheckpointResult> WriteCheckpointAsync(string worker, CheckpointPlan plan) => grains.GetGrain<IWorkerGrain>(worker).WriteCheckpointAsync(plan);

    /// <summary>
    /// Starts the validation on the worker and collects its report, polling (from 50 ms, backing off to 1 s): each
    /// call is short, so a validation may take longer than a grain call may wait; the step loop bounds the whole and
    /// cancels <paramref name="abandon"/> when it stops waiting.
    /// </summary>
    public async Task<ValidationReport> ValidateAsync(string worker, ValidationPlan plan, CancellationToken abandon)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var grain = grains.GetGrain<IWorkerGrain>(worker);
        await grain.StartValidationAsync(plan).ConfigureAwait(false);
        for (var wait = 50; ; wait = Math.Min(wait * 2, 1000))
        {
            if (await grain.GetValidationAsync(plan.JobId, plan.Version).ConfigureAwait(false) is { } report)
            {
                return report;
            }

            await Task.Delay(wait, abandon).ConfigureAwait(false);
        }
    }

    public Task ReleaseWorkerAsync(string worker, string jobId) => grains.GetGrain<IWorkerGrain>(worker).ReleaseAsync(jobId);

    public Task StartUnitsAsync(string worker, PredictionPlan plan) => grains.GetGrain<IWorkerGrain>(worker).StartUnitsAsync(plan);

    public Task<UnitReports> TakeUnitReportsAsync(string worker, string jobId) => grains.GetGrain<IWorkerGrain>(worker).TakeUnitReportsAsync(jobId);

    public Task ReleaseReducerAsync(string reducer) => grains.GetGrain<IReducerGrain>(reducer).ReleaseAsync();

    public IDisposable? StartStep(long stepIndex) => UNetTelemetry.StartStep(jobId, stepIndex);

    public void StepCommitted(JobStatus status, IReadOnlyList<StepReport> reports)
    {
        ArgumentNullException.ThrowIfNull(status);
        ArgumentNullException.ThrowIfNull(reports);
        UNetTelemetry.StepCommitted(status, reports);
        var workers = reports.Select(r => new WorkerStepPoint(r.Worker, r.ComputeTime.TotalSeconds, r.SyncTime.TotalSeconds, r.BytesSent + r.BytesReceived, r.Compute, r.MemoryBytes)).ToList();
        var throughput = status.RecentTilesPerSecond > 0 ? status.RecentTilesPerSecond : status.TilesPerSecond;
        var point = new StepPoint(status.Step, DateTimeOffset.UtcNow, status.Loss ?? double.NaN, status.SmoothedLoss, throughput, status.StepSeconds, workers);
        _ = grains.GetGrain<IJobHistoryGrain>(jobId).AppendStepAsync(point);
    }

    public void Validated(JobStatus status, ValidationResult validation)
    {
        ArgumentNullException.ThrowIfNull(validation);
        UNetTelemetry.Validated(jobId, validation);
        _ = grains.GetGrain<IJobHistoryGrain>(jobId).AppendValidationAsync(validation);
    }

    public void StepRecomputed() => UNetTelemetry.StepRecomputed(jobId);

    public void CheckpointWritten(long stepIndex, string location, long bytes, TimeSpan stall)
    {
        UNetTelemetry.CheckpointWritten(jobId, bytes, stall);
        _ = grains.GetGrain<IJobHistoryGrain>(jobId).AppendCheckpointAsync(new CheckpointPoint(stepIndex, DateTimeOffset.UtcNow, location, stall.TotalSeconds, bytes));
    }

    private HashSet<SiloAddress> ActiveSilos() =>
        [.. membership.CurrentSnapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress)];
}
