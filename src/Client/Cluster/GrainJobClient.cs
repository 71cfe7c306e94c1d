using UNetCluster.Client.Commands;
using UNetCluster.Contracts.Grains;
using UNetCluster.Contracts.Jobs;

namespace UNetCluster.Client.Cluster;

/// <summary>The cluster verbs as grain calls: through an Orleans client of a running cluster, or of the embedded silo.</summary>
/// <param name="grains">The client's grain factory.</param>
/// <param name="where">Where the cluster is, for messages.</param>
/// <param name="owner">What to dispose with this client (the connection), or null when the caller owns the client.</param>
internal sealed class GrainJobClient(IGrainFactory grains, string where, IAsyncDisposable? owner = null) : IJobClient
{
    public string Describe() => where;

    public Task<SubmitResult> SubmitAsync(JobSpec spec, string? jobId, CancellationToken cancellationToken) =>
        grains.GetGrain<IJobRegistryGrain>(0).SubmitAsync(spec, jobId);

    /// <summary>The job's status from its coordinator (not the registry, whose list is rebuilt if its silo is lost).</summary>
    public async Task<JobStatus> GetStatusAsync(string jobId, CancellationToken cancellationToken)
    {
        try
        {
            return await grains.GetGrain<ITrainingJobGrain>(jobId).GetStatusAsync().ConfigureAwait(false);
        }
        catch (KeyNotFoundException e)
        {
            throw new UserInputException(e.Message, e);
        }
    }

    public async Task<JobHistory> GetHistoryAsync(string jobId, CancellationToken cancellationToken)
    {
        await GetStatusAsync(jobId, cancellationToken).ConfigureAwait(false);   // an unknown job is refused, not given an empty history
        return await grains.GetGrain<IJobHistoryGrain>(jobId).GetAsync(-1).ConfigureAwait(false);
    }

    public Task<IReadOnlyList<JobStatus>> ListAsync(CancellationToken cancellationToken) => grains.GetGrain<IJobRegistryGrain>(0).ListAsync();

    public async Task<JobStatus> CancelAsync(string jobId, CancellationToken cancellationToken)
    {
        await GetStatusAsync(jobId, cancellationToken).ConfigureAwait(false);   // an unknown job is refused, not created by the call
        return await grains.GetGrain<ITrainingJobGrain>(jobId).CancelAsync().ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<SiloView>> ListSilosAsync(CancellationToken cancellationToken)
    {
        var hosts = await grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: false, cancellationToken).ConfigureAwait(false);
        return [.. hosts.Select(h => new SiloView(h.Key.ToParsableString(), h.Value.ToString().ToLowerInvariant())).OrderBy(s => s.Address, StringComparer.Ordinal)];
    }

    public ValueTask DisposeAsync() => owner?.DisposeAsync() ?? ValueTask.CompletedTask;
}
