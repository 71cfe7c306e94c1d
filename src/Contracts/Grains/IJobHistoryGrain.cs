using Orleans.Concurrency;
using UNetCluster.Contracts.Jobs;

namespace UNetCluster.Contracts.Grains;

/// <summary>
/// The bounded step and checkpoint history of one job (key: the job id), fed by the job's coordinator and read by
/// the REST API and the dashboard. Held in memory: it is lost with its silo, the job is not.
/// </summary>
public interface IJobHistoryGrain : IGrainWithStringKey
{
    /// <summary>A step committed. A step at or below the last one (the job went back to a checkpoint) replaces what follows it.</summary>
    [OneWay]
    Task AppendStepAsync(StepPoint point);

    [OneWay]
    Task AppendCheckpointAsync(CheckpointPoint checkpoint);

    [OneWay]
    Task AppendValidationAsync(ValidationResult validation);

    /// <summary>The steps after <paramref name="afterStep"/> (all with -1) and every checkpoint.</summary>
    [AlwaysInterleave]
    Task<JobHistory> GetAsync(long afterStep);
}
