using UNetCluster.Contracts.Jobs;
using UNetCluster.Training.Jobs;

namespace UNetCluster.Training.Worker;

/// <summary>
/// The replicas of the jobs a silo's engine works on, by job id. Used only from the engine's one work loop, so it
/// needs no lock; a replica's native memory is freed on the torch thread. Replicas compute on the torch thread's device.
/// </summary>
public sealed class ReplicaSet(DataCatalog catalog, TorchThread torch, string silo)
{
    private readonly Dictionary<string, Replica> _replicas = new(StringComparer.Ordinal);

    /// <summary>The job's replica when it holds exactly <paramref name="version"/>, else null.</summary>
    public Replica? At(string jobId, long version) =>
        _replicas.TryGetValue(jobId, out var replica) && replica.Version == version ? replica : null;

    /// <summary>The job's replica for <paramref name="spec"/>: the one held, or a new one (its data set opened) replacing one of another spec.</summary>
    public async Task<Replica> GetAsync(string jobId, JobSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (_replicas.TryGetValue(jobId, out var replica) && replica.Spec == spec)
        {
            return replica;
        }

        await RemoveAsync(jobId).ConfigureAwait(false);
        var options = JobOptions.Build(spec);
        var data = await catalog.OpenAsync(spec.DataSet).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"data set '{spec.DataSet}' is not known on silo {silo}.");
        replica = await torch.RunAsync(() => new Replica(spec, options, data, torch.Device.Device)).ConfigureAwait(false);
        _replicas[jobId] = replica;
        return replica;
    }

    /// <summary>Marks the job's replica's parameters unknown (half-pulled, say): the next step pulls them whole.</summary>
    public void Invalidate(string jobId)
    {
        if (_replicas.TryGetValue(jobId, out var replica))
        {
            replica.Version = -1;
        }
    }

    public Task RemoveAsync(string jobId) =>
        _replicas.Remove(jobId, out var replica) ? torch.RunAsync(replica.Dispose) : Task.CompletedTask;

    /// <summary>Forgets every replica without touching libtorch (at shutdown the torch thread may be gone; the memory goes with the process).</summary>
    public void Clear() => _replicas.Clear();
}
