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
    /// Sends bucket i of <paramref name="layout"/> (values <paramref name="message"/>(i)) as its index arrives on
    /// <paramref name="ready"/>, until the channel completes. Bytes sent; null when a reducer says the attempt is stale.
    /// </summary>
    public async Task<long?> SendGradientAsync(StepPlan plan, IReadOnlyList<ShardBucket> layout, Func<int, byte[]> message, ChannelReader<int> ready)
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
            var bucket = new GradientBucket(plan.Step, plan.Attempt, plan.WorkerIndex, plan.Tiles.Count, layout[i].Range.Offset, values);
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
    /// the version. Bytes received; null when <paramref name="abandon"/> turns true meanwhile.
    /// </summary>
    public async Task<long?> PullAsync(
        IReadOnlyList<string> reducers, IReadOnlyList<ShardBucket> layout, string name, long version, float[] destination, Func<bool> abandon)
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
                if (await transport.TryPullAsync(reducers[bucket.Shard], name, version, offset, length, destination).ConfigureAwait(false))
                {
                    Interlocked.Add(ref received, (long)length * sizeof(float));
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
