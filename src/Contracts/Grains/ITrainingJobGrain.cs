using UNetCluster.Contracts.Jobs;
using UNetCluster.Contracts.Messages;

namespace UNetCluster.Contracts.Grains;

/// <summary>
/// The coordinator of one job (key: the job id). It opens each step over the live workers and their tiles, commits
/// it when every reducer has applied it, recomputes it without a lost worker, writes checkpoints, and answers status.
/// </summary>
public interface ITrainingJobGrain : IGrainWithStringKey
{
    /// <summary>Starts the job with a spec the registry has validated; resumes from the job's latest checkpoint if it has one.</summary>
    Task StartAsync(JobSpec spec);

    Task<JobStatus> GetStatusAsync();

    /// <summary>Asks the job to stop at the next step boundary and write a checkpoint.</summary>
    Task<JobStatus> CancelAsync();

    /// <summary>A worker finished its part of a step (its replica holds the step's parameters) or failed it.</summary>
    Task ReportStepAsync(StepReport report);
}
