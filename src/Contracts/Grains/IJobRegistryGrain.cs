using Orleans.Concurrency;
using UNetCluster.Contracts.Jobs;

namespace UNetCluster.Contracts.Grains;

/// <summary>The cluster's list of jobs (one grain, key 0): validates and creates jobs, and lists them.</summary>
public interface IJobRegistryGrain : IGrainWithIntegerKey
{
    /// <summary>
    /// Validates the spec; when it is valid, creates and starts a job and returns its id. When it is not, returns every
    /// error and creates nothing. <paramref name="jobId"/> names the job (a new id when null).
    /// </summary>
    Task<SubmitResult> SubmitAsync(JobSpec spec, string? jobId = null);

    [AlwaysInterleave]
    Task<IReadOnlyList<JobStatus>> ListAsync();

    /// <summary>True when a job with this id was submitted.</summary>
    [AlwaysInterleave]
    Task<bool> ExistsAsync(string jobId);

    /// <summary>A job grain's latest status, for <see cref="ListAsync"/>. Interleaves: a job publishes while it is being submitted.</summary>
    [AlwaysInterleave]
    Task UpdateAsync(JobStatus status);
}
