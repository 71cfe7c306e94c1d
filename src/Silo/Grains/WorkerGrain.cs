using System.Diagnostics;
using Orleans.Concurrency;
using UNetCluster.Contracts.Grains;
using UNetCluster.Contracts.Messages;
using UNetCluster.Silo.Engines;
using UNetCluster.Silo.Placement;

namespace UNetCluster.Silo.Grains;

/// <summary>
/// The worker of one silo, placed on that silo: it hands work to the silo's <see cref="WorkerEngine"/> and returns.
/// Reentrant because it holds no state of its own: the engine runs one piece of work at a time.
/// </summary>
[SiloBoundPlacement]
[Reentrant]
public sealed class WorkerGrain(WorkerEngine engine) : Grain, IWorkerGrain
{
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (this.GetPrimaryKeyString() != engine.WorkerKey)
        {
            throw new InvalidOperationException($"Worker grain '{this.GetPrimaryKeyString()}' was activated on the wrong silo ({engine.WorkerKey}).");
        }

        return base.OnActivateAsync(cancellationToken);
    }

    public Task StartStepAsync(StepPlan plan)
    {
        engine.EnqueueStep(plan, Activity.Current?.Context ?? default);
        return Task.CompletedTask;
    }

    public Task<RestoreResult> RestoreAsync(RestorePlan plan) => engine.RestoreAsync(plan);

    public Task<CheckpointResult> WriteCheckpointAsync(CheckpointPlan plan) => engine.WriteCheckpointAsync(plan);

    public Task StartValidationAsync(ValidationPlan plan)
    {
        engine.StartValidation(plan);
        return Task.CompletedTask;
    }

    public Task<ValidationReport?> GetValidationAsync(string jobId, long version) => engine.GetValidationAsync(jobId, version);

    public Task StartUnitsAsync(PredictionPlan plan)
    {
        engine.StartUnits(plan);
        return Task.CompletedTask;
    }

    public Task<UnitReports> TakeUnitReportsAsync(string jobId) => Task.FromResult(engine.TakeUnitReports(jobId));

    public Task ReleaseAsync(string jobId)
    {
        engine.Release(jobId);
        return Task.CompletedTask;
    }
}
