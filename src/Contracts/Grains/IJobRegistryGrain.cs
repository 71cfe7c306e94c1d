using Orleans.Concurrency;
using UNetCluster.Contracts.Jobs;

namespace UNetCluster.Contracts.Grains;

/// <summary>
/// The cluster's jobs (one grain, key 0): validates and creates jobs, and lists them from their records in the
/// cluster's storage (so a new activation of it on another silo knows every job).
/// </summary>
public interface IJobRegistryGrain : IGrainWithIntegerKey
{
    /// <summary>
    /// Validates the spec; when it is valid, creates and starts a job and returns its id. When it is not, returns every
    /// error and creates nothing. <paramref name="jobId"/> names the job (a new id when null).
    /// </summary>
    Task<SubmitResult> SubmitAsync(JobSpec spec, string? jobId = null);

    [AlwaysInterleave]
    Task<IReadOnlyList<JobStatus>> ListAsync();

    /// <summary>True when a job with this id has a record.</summary>
    [AlwaysInterleave]
    Task<bool> ExistsAsync(string jobId);
}
