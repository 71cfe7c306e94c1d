using System.Globalization;
using System.Security.Cryptography;
using UNetCluster.Contracts.Grains;
using UNetCluster.Contracts.Jobs;
using UNetCluster.Silo.Jobs;

namespace UNetCluster.Silo.Grains;

/// <summary>
/// Validates and creates jobs and keeps their latest status for listing. A refused spec creates nothing. The list is
/// held in memory: job records in storage (DESIGN.md's <c>jobs/{job}/record.json</c>) come with the blob store.
/// </summary>
public sealed class JobRegistryGrain(JobSpecValidator validator) : Grain, IJobRegistryGrain
{
    private readonly Dictionary<string, JobStatus> _jobs = new(StringComparer.Ordinal);

    public async Task<SubmitResult> SubmitAsync(JobSpec spec, string? jobId = null)
    {
        // Reading the data set's files to check them is I/O, kept off the grain's scheduler thread.
        var errors = await Task.Run(() => validator.Validate(spec, jobId)).ConfigureAwait(true);
        if (jobId is not null && _jobs.TryGetValue(jobId, out var existing) && !existing.IsFinished)
        {
            errors = [.. errors, $"job id '{jobId}' is taken by a job that is {existing.State.ToString().ToLowerInvariant()}."];
        }

        if (errors.Count > 0)
        {
            return new SubmitResult(null, errors);
        }

        var id = jobId ?? NewId();
        var job = GrainFactory.GetGrain<ITrainingJobGrain>(id);
        await job.StartAsync(spec).ConfigureAwait(true);
        _jobs[id] = await job.GetStatusAsync().ConfigureAwait(true);
        this.DelayDeactivation(TimeSpan.FromDays(30));
        return new SubmitResult(id, []);
    }

    public Task<IReadOnlyList<JobStatus>> ListAsync() =>
        Task.FromResult<IReadOnlyList<JobStatus>>(_jobs.Values.OrderBy(j => j.Created).ToList());

    public Task<bool> ExistsAsync(string jobId) => Task.FromResult(_jobs.ContainsKey(jobId));

    public Task UpdateAsync(JobStatus status)
    {
        ArgumentNullException.ThrowIfNull(status);
        if (!_jobs.TryGetValue(status.Id, out var known) || known.Updated <= status.Updated)
        {
            _jobs[status.Id] = status;
        }

        return Task.CompletedTask;
    }

    private static string NewId() =>
        string.Create(CultureInfo.InvariantCulture, $"job-{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(2))}");
}
