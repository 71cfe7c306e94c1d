using Microsoft.Extensions.Logging;
using UNetCluster.Contracts.Grains;
using UNetCluster.Contracts.Messages;
using UNetCluster.Model.Checkpoints;
using UNetCluster.Model.Distributed;
using UNetCluster.Model.Optimization;
using UNetCluster.Training.Checkpoints;
using UNetCluster.Training.Jobs;

namespace UNetCluster.Training.Worker;

/// <summary>
/// Sets a job's reducers up from its latest checkpoint, or from the seed's initial weights when it has none: the
/// checkpoint is read (and its hashes checked) off the torch thread, loaded into the replica on it, and each reducer
/// gets its shard of the parameters and of the optimizer state.
/// </summary>
public sealed partial class Restorer(IGrainFactory grains, JobStorage storage, TorchThread torch, ILogger<Restorer> logger)
{
    /// <summary>Restores <paramref name="replica"/> (new, at the seed's weights) and the plan's reducers; the step they are at.</summary>
    public async Task<RestoreResult> RestoreAsync(RestorePlan plan, Replica replica, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(replica);
        var store = storage.Checkpoints(plan.JobId, logger);
        var checkpoint = await store.LoadLatestAsync(message => LogCorruptCheckpoint(plan.JobId, message), cancellationToken).ConfigureAwait(false);
        var (version, optimizerSteps, state) = checkpoint is null
            ? (0L, 0L, new Dictionary<string, float[]>(StringComparer.Ordinal))
            : await torch.RunAsync(() => Load(plan.JobId, checkpoint, replica)).ConfigureAwait(false);
        replica.Version = version;
        var layout = replica.Layout(plan.Reducers.Count, plan.BucketBytes);
        var vectors = state.Select(kv => (Name: kv.Key, Values: kv.Value)).Prepend((ShardReducer.ParametersName, replica.Parameters)).ToList();
        foreach (var shard in ParameterShards.Split(replica.ParameterCount, plan.Reducers.Count))
        {
            var reducer = grains.GetGrain<IReducerGrain>(plan.Reducers[shard.Index]);
            await reducer.SetupAsync(new ReducerSetup(plan.JobId, plan.Spec, shard.Index, shard.Offset, shard.Length, version, optimizerSteps)).ConfigureAwait(false);
            foreach (var (name, values) in vectors)
            {
                foreach (var bucket in layout.Where(b => b.Shard == shard.Index).Select(b => b.Range))
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan((int)bucket.Offset, (int)bucket.Length)).ToArray();
                    await reducer.LoadAsync(new VectorBucket(name, version, bucket.Offset, bytes)).ConfigureAwait(false);
                }
            }
        }

        LogRestored(plan.JobId, version, plan.Reducers.Count, checkpoint?.Directory ?? "the seed's initial weights");
        return new RestoreResult(version, replica.ParameterCount, checkpoint?.Directory);
    }

    /// <summary>On the torch thread: the checkpoint's weights into the replica, its optimizer state as flat vectors; then frees its tensors.</summary>
    private static (long Version, long OptimizerSteps, Dictionary<string, float[]> State) Load(string jobId, LoadedCheckpoint checkpoint, Replica replica)
    {
        using (checkpoint)
        {
            var options = replica.Options;
            if (checkpoint.Manifest.Model != options.Model || checkpoint.Manifest.Optimizer != options.Optimizer)
            {
                throw new InvalidOperationException(
                    $"The checkpoint '{checkpoint.Directory}' of job {jobId} was trained with another layer plan or optimizer " +
                    $"({checkpoint.Manifest.Model}, {checkpoint.Manifest.Optimizer}); it cannot be resumed with this spec.");
            }

            replica.Engine.Model.load_state_dict(checkpoint.Weights, strict: true);
            replica.ReadParameters();
            var state = FlatOptimizer.StateNames(options.Optimizer.Kind).ToDictionary(
                name => name, name => checkpoint.OptimizerState[name].reshape(-1).contiguous().data<float>().ToArray(), StringComparer.Ordinal);
            var steps = checkpoint.OptimizerState.TryGetValue("step", out var s) ? s.item<long>() : checkpoint.Manifest.Step;
            return (checkpoint.Manifest.Step, steps, state);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: {Message}; trying the checkpoint before it")]
    private partial void LogCorruptCheckpoint(string jobId, string message);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: {Reducers} reducers set up at step {Version} from {Source}")]
    private partial void LogRestored(string jobId, long version, int reducers, string source);
}
