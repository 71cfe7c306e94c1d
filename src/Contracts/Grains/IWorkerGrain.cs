using UNetCluster.Contracts.Messages;

namespace UNetCluster.Contracts.Grains;

/// <summary>
/// The worker of one silo (key: <c>worker@</c> and the silo's address; it is always placed on that silo). It hands
/// work to the silo's training engine, which owns the TorchSharp replica; no training step runs in a grain turn.
/// </summary>
public interface IWorkerGrain : IGrainWithStringKey
{
    /// <summary>Queues a step on the engine and returns at once; the engine reports to the job's coordinator.</summary>
    Task StartStepAsync(StepPlan plan);

    /// <summary>Loads the job's latest checkpoint (or the seed's initial weights) and sets up the reducers from it.</summary>
    Task<RestoreResult> RestoreAsync(RestorePlan plan);

    /// <summary>Writes a checkpoint from this worker's replica and the reducers' optimizer state; returns its location.</summary>
    Task<CheckpointResult> WriteCheckpointAsync(CheckpointPlan plan);

    /// <summary>
    /// Queues the prediction and scoring of this worker's share of the job's validation sections with its replica at the
    /// plan's version, and returns at once: a validation may take longer than a grain call may wait (a large validation
    /// set, a slow device), so its report is collected with <see cref="GetValidationAsync"/>.
    /// </summary>
    Task StartValidationAsync(ValidationPlan plan);

    /// <summary>
    /// The report of the validation of <paramref name="jobId"/> at <paramref name="version"/> started on this worker,
    /// once it is done (then forgotten); null while it runs. Throws the validation's error, or when none was started
    /// (the silo restarted since, say).
    /// </summary>
    Task<ValidationReport?> GetValidationAsync(string jobId, long version);

    /// <summary>
    /// Queues a prediction job's units on the engine (behind whatever it runs) and returns at once; each unit's report
    /// waits in <see cref="TakeUnitReportsAsync"/>. The job's checkpoint is loaded once per silo and kept until
    /// <see cref="ReleaseAsync"/>.
    /// </summary>
    Task StartUnitsAsync(PredictionPlan plan);

    /// <summary>
    /// The reports of the job's units finished since the last call (then forgotten), and how many of its units are
    /// still queued or running here. Throws when this worker was never given units of the job (its silo restarted).
    /// </summary>
    Task<UnitReports> TakeUnitReportsAsync(string jobId);

    /// <summary>Drops the job's replica (the job has ended).</summary>
    Task ReleaseAsync(string jobId);
}
