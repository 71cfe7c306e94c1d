using UNetCluster.Contracts.Grains;
using UNetCluster.Contracts.Messages;
using UNetCluster.Model.Distributed;

namespace UNetCluster.Training.Transport;

/// <summary>
/// The one place that chooses a bucket's path: the reducer's silo's data plane where <see cref="DataPlaneClient"/> has
/// an endpoint for it (another silo that serves one), otherwise a grain message (a reducer on this silo: a local call
/// copies nothing; the data plane off; a silo without one).
/// </summary>
public sealed class BucketTransport(IGrainFactory grains, DataPlaneClient dataPlane) : IBucketTransport
{
    public async Task<ContributionOutcome> SendGradientAsync(string reducer, GradientBucket bucket)
    {
        ArgumentNullException.ThrowIfNull(bucket);
        return await dataPlane.EndpointOfAsync(reducer).ConfigureAwait(false) is { } endpoint
            ? await dataPlane.AddGradientAsync(endpoint, reducer, bucket).ConfigureAwait(false)
            : await grains.GetGrain<IReducerGrain>(reducer).AddGradientAsync(bucket).ConfigureAwait(false);
    }

    public async Task<bool> TryPullAsync(string reducer, string name, long version, long offset, int count, float[] destination, WireFormat format = WireFormat.Fp32)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (await dataPlane.EndpointOfAsync(reducer).ConfigureAwait(false) is { } endpoint)
        {
            return await dataPlane.PullAsync(endpoint, reducer, name, version, offset, count, destination, format).ConfigureAwait(false);
        }

        if (await grains.GetGrain<IReducerGrain>(reducer).GetBucketAsync(name, version, offset, count, format).ConfigureAwait(false) is not { } bucket)
        {
            return false;
        }

        BFloat16Values.Decode(bucket.Values, destination.AsSpan(checked((int)offset), count), bucket.Format == WireFormat.Bf16);
        return true;
    }
}
