using UNetCluster.Contracts.Jobs;
using UNetCluster.Contracts.Messages;

namespace UNetCluster.Training.Coordination;

/// <summary>
/// What a job's <see cref="StepLoop"/> needs of the cluster: its membership, its workers' and reducers' grains, and
/// where committed steps and checkpoints are recorded (metrics, the job's history). The silo implements it over
/// Orleans; the loop's tests fake it. Calls fail as grain calls do (OrleansException, TimeoutException,
/// InvalidOperationException), which the loop treats as a failed attempt.
/// </summary>
public interface IJobCluster
{
    /// <summary>The worker keys of the active silos in a stable (ordinal) order, at most <paramref name="limit"/>.</summary>
    IReadOnlyList<string> LiveWorkers(int? limit);

    /// <summary>Whether the silo that a worker or reducer key names (<see cref="SiloKeys"/>) is an active member.</summary>
    bool IsAlive(string key);

    Task OpenStepAsync(string reducer, long stepIndex, int attempt, int workers, double learningRate);

    Task StartStepAsync(string worker, StepPlan plan);

    Task<RestoreResult> RestoreAsync(string worker, RestorePlan plan);

    Task<ReducerState> GetReducerStateAsync(string reducer);

    /// <summary>Sets reducer <paramref name="copy"/> up as a copy of reducer <paramref name="source"/> at the setup's step.</summary>
    Task CopyReducerAsync(string copy, ReducerSetup setup, string source);

    /// <summary>Makes <paramref name="reducer"/> hand every step it applies to <paramref name="copy"/> (null: to none).</summary>
    Task SetReducerCopyAsync(string reducer, string? copy);

    Task<CheckpointResult> WriteCheckpointAsync(string worker, CheckpointPlan plan);

    /// <summary>
    /// The worker's validation report of the plan's step; <paramref name="abandon"/> is cancelled once the step loop
    /// no longer waits for it (its timeout, or another worker's failure), so nothing keeps asking after it.
    /// </summary>
    Task<ValidationReport> ValidateAsync(string worker, ValidationPlan plan, CancellationToken abandon);

    Task ReleaseWorkerAsync(string worker, string jobId);

    Task ReleaseReducerAsync(string reducer);

    /// <summary>A trace span for one step at the coordinator (null when nobody listens).</summary>
    IDisposable? StartStep(long stepIndex);

    /// <summary>A step committed with these reports; <paramref name="status"/> is the job's status after it.</summary>
    void StepCommitted(JobStatus status, IReadOnlyList<StepReport> reports);

    /// <summary>A validation finished; <paramref name="status"/> is the job's status after it.</summary>
    void Validated(JobStatus status, ValidationResult validation);

    /// <summary>An attempt of the open step was dropped; the step is recomputed.</summary>
    void StepRecomputed();

    /// <summary>A checkpoint newer than the last one reported has landed in storage.</summary>
    void CheckpointWritten(long stepIndex, string location, long bytes, TimeSpan stall);
}
