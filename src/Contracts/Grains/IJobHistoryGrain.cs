using Orleans.Concurrency;
using UNetCluster.Contracts.Jobs;

namespace UNetCluster.Contracts.Grains;

/// <summary>
/// The bounded step and checkpoint history of one job (key: the job id), fed by the job's coordinator and read by
/// the REST API and the dashboard. Kept beside the job's record in the cluster's storage (<c>jobs/{job}/history.json</c>
/// and <c>history-tail.json</c>), written behind about once a second: an activation after its silo died reads it back,
/// missing at most what was appended in the last second before the silo died.
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
