using System.Threading.Channels;
using UNetCluster.Contracts.Messages;
using UNetCluster.Model.Distributed;
using UNetCluster.Training.Transport;

namespace UNetCluster.Training.Worker;

/// <summary>
/// A worker's side of a step's traffic, bucket by bucket over an <see cref="IBucketTransport"/>: the gradient's buckets
/// sent to their reducers as the compute hands them over, and a vector (the parameters, or optimizer state for a
/// checkpoint) pulled from the reducers, each bucket polled until its reducer has reached the version.
/// </summary>
public sealed class BucketExchange(IBucketTransport transport)
{
    /// <summary>Requests in flight at once, per direction.</summary>
    private const int MaxInFlight = 8;

    /// <summary>
    /// Pulls the parameters at <paramref name="version"/> from <paramref name="reducers"/> (cut in buckets of
    /// <paramref name="bucketBytes"/>) into <paramref name="replica"/> and its model, as <paramref name="format"/>: the
    /// replica's own wire format for a step, float32 when the fp32 masters are needed (a checkpoint, a validation).
    /// Bytes received; null when <paramref name="abandon"/> turned true meanwhile (the replica is then left as it was
    /// marked: its version unchanged).
    /// </summary>
    public async Task<long?> PullParametersAsync(
        Replica replica, IReadOnlyList<string> reducers, int bucketBytes, long version, WireFormat format, TorchThread torch, Func<bool> abandon)
    {
        ArgumentNullException.ThrowIfNull(replica);
        ArgumentNullException.ThrowIfNull(torch);
        var layout = replica.Layout(reducers.Count, bucketBytes);
        var pulled = await PullAsync(reducers, layout, ShardReducer.ParametersName, version, replica.Parameters, abandon, format).ConfigureAwait(false);
        if (pulled is not null)
        {
            await torch.RunAsync(replica.AssignParameters).ConfigureAwait(false);
            replica.Version = version;
            replica.ParametersExact = format == WireFormat.Fp32;
        }

        return pulled;
    }

    /// <summary>
    /// Makes <paramref name="replica"/> hold the fp32 masters of <paramref name="version"/>, as a checkpoint or a
    /// validation needs them: nothing to do when it holds them already; when it holds their bf16 rounding (a bf16 job's
    /// step pull), they are pulled from the reducers, which must still be at that version. False when
    /// <paramref name="abandon"/> turned true meanwhile.
    /// </summary>
    public async Task<bool> EnsureMastersAsync(
        Replica replica, IReadOnlyList<string> reducers, int bucketBytes, long version, TorchThread torch, Func<bool> abandon)
    {
        ArgumentNullException.ThrowIfNull(replica);
        return replica.ParametersExact
            || await PullParametersAsync(replica, reducers, bucketBytes, version, WireFormat.Fp32, torch, abandon).ConfigureAwait(false) is not null;
    }

    /// <summary>
    /// Sends bucket i of <paramref name="layout"/> (values <paramref name="message"/>(i), in <paramref name="format"/>) as
    /// its index arrives on <paramref name="ready"/>, until the channel completes. Bytes sent; null when a reducer says
    /// the attempt is stale.
    /// </summary>
    public async Task<long?> SendGradientAsync(
        StepPlan plan, IReadOnlyList<ShardBucket> layout, Func<int, byte[]> message, ChannelReader<int> ready, WireFormat format = WireFormat.Fp32)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(message);
        long sent = 0;
        var stale = false;
        await Parallel.ForEachAsync(ready.ReadAllAsync(), new ParallelOptions { MaxDegreeOfParallelism = MaxInFlight }, async (i, _) =>
        {
            if (Volatile.Read(ref stale))
            {
                return;
            }

            var reducer = plan.Reducers[layout[i].Shard];
            var values = message(i);
            var bucket = new GradientBucket(plan.Step, plan.Attempt, plan.WorkerIndex, plan.Tiles.Count, layout[i].Range.Offset, values, format);
            switch (await transport.SendGradientAsync(reducer, bucket).ConfigureAwait(false))
            {
                case ContributionOutcome.Stale:
                    Volatile.Write(ref stale, true);
                    break;
                case ContributionOutcome.NotFinite:
                    throw new InvalidOperationException($"Reducer {reducer} refused a bucket of step {plan.Step} as not finite.");
                default:
                    Interlocked.Add(ref sent, values.Length);
                    break;
            }
        }).ConfigureAwait(false);
        return stale ? null : sent;
    }

    /// <summary>
    /// Pulls vector <paramref name="name"/> at <paramref name="version"/> from <paramref name="reducers"/> into
    /// <paramref name="destination"/>, polling each bucket (backing off from 1 to 32 ms) until its reducer has reached
    /// the version; the values travel in <paramref name="format"/>. Bytes received; null when <paramref name="abandon"/>
    /// turns true meanwhile.
    /// </summary>
    public async Task<long?> PullAsync(
        IReadOnlyList<string> reducers, IReadOnlyList<ShardBucket> layout, string name, long version, float[] destination, Func<bool> abandon,
        WireFormat format = WireFormat.Fp32)
    {
        ArgumentNullException.ThrowIfNull(reducers);
        ArgumentNullException.ThrowIfNull(abandon);
        long received = 0;
        var abandoned = false;
        await Parallel.ForEachAsync(layout, new ParallelOptions { MaxDegreeOfParallelism = MaxInFlight }, async (bucket, _) =>
        {
            var (offset, length) = (bucket.Range.Offset, (int)bucket.Range.Length);
            for (var wait = 1; !Volatile.Read(ref abandoned); wait = Math.Min(wait * 2, 32))
            {
                if (await transport.TryPullAsync(reducers[bucket.Shard], name, version, offset, length, destination, format).ConfigureAwait(false))
                {
                    Interlocked.Add(ref received, (long)length * format.BytesPerValue());
                    return;
                }

                if (abandon())
                {
                    Volatile.Write(ref abandoned, true);
                    return;
                }

                await Task.Delay(wait, CancellationToken.None).ConfigureAwait(false);
            }
        }).ConfigureAwait(false);
        return abandoned ? null : received;
    }
}
