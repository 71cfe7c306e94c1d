using UNetCluster.Contracts.Messages;

namespace UNetCluster.Training.Transport;

/// <summary>
/// How a worker moves one bucket to or from a reducer. The implementation chooses the path (the data plane or a grain
/// message); the worker never does. Any failure throws, as a failed grain call would, and fails the step.
/// </summary>
public interface IBucketTransport
{
    /// <summary>Sends a gradient bucket to reducer <paramref name="reducer"/>; the reducer's verdict.</summary>
    Task<ContributionOutcome> SendGradientAsync(string reducer, GradientBucket bucket);

    /// <summary>
    /// Pulls <paramref name="count"/> values of vector <paramref name="name"/> at <paramref name="version"/> from reducer
    /// <paramref name="reducer"/> into <paramref name="destination"/> at <paramref name="offset"/>. False while the
    /// reducer has not reached the version; throws when it has moved past it. <paramref name="format"/> is how the
    /// values travel (the parameters may be pulled as their bf16 rounding); they land as float32 either way.
    /// </summary>
    Task<bool> TryPullAsync(string reducer, string name, long version, long offset, int count, float[] destination, WireFormat format = WireFormat.Fp32);
}
