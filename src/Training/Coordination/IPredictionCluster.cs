using UNetCluster.Contracts.Messages;

namespace UNetCluster.Training.Coordination;

/// <summary>
/// What a prediction job's <see cref="PredictionLoop"/> needs of the cluster: its membership and its workers. The silo
/// implements it over Orleans. Calls fail as grain calls do, which the loop treats as the worker's units being lost.
/// </summary>
public interface IPredictionCluster
{
    /// <summary>The worker keys of the active silos in a stable (ordinal) order, at most <paramref name="limit"/>.</summary>
    IReadOnlyList<string> LiveWorkers(int? limit);

    /// <summary>Whether the silo that a worker key names is an active member.</summary>
    bool IsAlive(string key);

    Task StartUnitsAsync(string worker, PredictionPlan plan);

    Task<UnitReports> TakeUnitReportsAsync(string worker, string jobId);

    Task ReleaseWorkerAsync(string worker, string jobId);
}

/// <summary>A job's run by its coordinator: a training job's <see cref="StepLoop"/> or a prediction job's <see cref="PredictionLoop"/>.</summary>
public interface IJobLoop
{
    /// <summary>Runs the job to its end and publishes its final state; returns early, publishing nothing, when fenced.</summary>
    Task RunAsync();

    /// <summary>Stops the job at its next boundary (a step, or the units in flight).</summary>
    void Cancel();
}
