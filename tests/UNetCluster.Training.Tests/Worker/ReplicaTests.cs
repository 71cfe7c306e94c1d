using UNetCluster.Contracts.Jobs;
using UNetCluster.Data.DataSets;
using UNetCluster.Model.Distributed;
using UNetCluster.Training.Jobs;
using UNetCluster.Training.Worker;

namespace UNetCluster.Training.Tests.Worker;

/// <summary>
/// A worker's replica cuts the gradient into the messages it sends (<see cref="Replica.ComputeGradient"/>): during
/// the backward pass (Worker:SendDuringBackward) or after it, the same bytes, handed out head first. (That the
/// values handed out during the backward pass were already final is tested on the gradient engine, in Model.Tests.)
/// </summary>
public sealed class ReplicaTests
{
    [Fact]
    public void ComputeGradient_DuringOrAfterTheBackwardPass_HandsOutTheSameMessagesHeadFirst()
    {
        var ct = TestContext.Current.CancellationToken;
        var spec = new JobSpec { Preset = "tiny", Seed = 11, Steps = 2, BatchSize = 2, Workers = 1, Reducers = 2, BucketKiB = 64 };
        var options = JobOptions.Build(spec);
        var data = DataSetSections.Local("isbi2012-em", DataSetLoader.LoadLabelled(BundledData.ImagesDirectory, BundledData.MasksDirectory));
        using var during = new Replica(spec, options, data);
        using var after = new Replica(spec, options, data);
        var buckets = ParameterShards.Layout(during.ParameterCount, 2, 16 * 1024);
        var handedDuring = new List<int>();
        var handedAfter = new List<int>();

        var a = during.ComputeGradient(1, [0, 1], buckets, duringBackward: true, handedDuring.Add, ct);
        var b = after.ComputeGradient(1, [0, 1], buckets, duringBackward: false, handedAfter.Add, ct);

        Assert.True(a.Finite);
        Assert.Equal(a, b);
        Assert.True(buckets.Count > 10, $"{buckets.Count} buckets");
        Assert.Equal(Enumerable.Range(0, buckets.Count).Reverse(), handedDuring);
        Assert.Equal(handedDuring, handedAfter);
        Assert.All(Enumerable.Range(0, buckets.Count), i => Assert.True(during.GradientMessages[i].AsSpan().SequenceEqual(after.GradientMessages[i]), $"bucket {i}"));
        var flat = after.Engine.Gradient.bytes.ToArray();
        Assert.Equal(flat, during.GradientMessages.SelectMany(m => m));
        Assert.Contains(flat, v => v != 0);
    }
}
