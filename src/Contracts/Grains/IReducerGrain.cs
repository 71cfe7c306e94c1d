using UNetCluster.Contracts.Messages;

namespace UNetCluster.Contracts.Grains;

/// <summary>
/// One shard of a job's flattened parameter vector and its optimizer state (key:
/// <c>{job}/{generation}/{index}@{silo}</c>; placed on that silo). It averages the workers' gradients for its shard in
/// worker order, applies the optimizer once per step, and serves the updated parameters.
/// </summary>
public interface IReducerGrain : IGrainWithStringKey
{
    Task SetupAsync(ReducerSetup setup);

    /// <summary>Loads a bucket of the parameters or of an optimizer state vector during set-up.</summary>
    Task LoadAsync(VectorBucket bucket);

    /// <summary>Opens a step for workers 0..<paramref name="workers"/>-1; a new attempt drops the older attempt's contributions.</summary>
    Task OpenStepAsync(long stepIndex, int attempt, int workers, double learningRate);

    Task<ContributionOutcome> AddGradientAsync(GradientBucket bucket);

    /// <summary>
    /// A bucket of the parameters ("parameters") or of an optimizer state vector after <paramref name="version"/> steps,
    /// or null while that version is not reached yet. The parameters stay servable for one version after the reducer
    /// has applied it, in the job's wire format (a worker that must start a recomputed step afresh after some reducers
    /// applied it); otherwise it throws when the reducer has moved past the version. The parameters may be asked for
    /// as bf16 (<paramref name="format"/>); optimizer state only as float32.
    /// </summary>
    Task<VectorBucket?> GetBucketAsync(string name, long version, long offset, int length, WireFormat format = WireFormat.Fp32);

    /// <summary>
    /// Keeps a copy of the shard's optimizer state vectors <paramref name="names"/> at <paramref name="version"/>, so
    /// that <see cref="GetBucketAsync"/> can serve them for that version after the reducer has moved on (a checkpoint
    /// is pulled while training continues). False when the reducer is not at that version. Replaces an older copy.
    /// </summary>
    Task<bool> SnapshotAsync(long version, IReadOnlyList<string> names);

    Task<ReducerState> GetStateAsync();

    /// <summary>
    /// Sets this reducer up as a copy of reducer <paramref name="source"/> (same shard, at the version the setup names,
    /// which the source must hold): its parameters and optimizer state are pulled bucket by bucket (the job's bucket
    /// size, from the setup's spec). Called at a step
    /// boundary, while no step is open on the source.
    /// </summary>
    Task CopyFromAsync(ReducerSetup setup, string source);

    /// <summary>
    /// From the next step on, hands each applied step's averaged gradient to reducer <paramref name="copy"/> (null: to
    /// none), which applies the same update and so holds the same state; a step's parameters are served only once the
    /// copy has applied it, so every committed step survives the loss of either silo.
    /// </summary>
    Task SetCopyAsync(string? copy);

    /// <summary>
    /// Where the data plane of this reducer's silo listens (<c>address:port</c>), for buckets that would otherwise be
    /// Orleans messages; null when that silo serves none.
    /// </summary>
    Task<string?> GetDataEndpointAsync();

    /// <summary>Drops the shard (the job ended or moved its reducers) and deactivates.</summary>
    Task ReleaseAsync();
}
