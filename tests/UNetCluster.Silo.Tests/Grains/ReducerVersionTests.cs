using System.Runtime.InteropServices;
using UNetCluster.Contracts.Grains;
using UNetCluster.Contracts.Jobs;
using UNetCluster.Contracts.Messages;
using UNetCluster.Model.Distributed;
using UNetCluster.Training;

namespace UNetCluster.Silo.Tests.Grains;

/// <summary>
/// A reducer keeps serving the parameters of the step it has just applied, so a worker that must start a recomputed
/// step afresh (it joined, or its replica was dropped, after some reducers applied the step before a peer was lost)
/// can pull them; two steps back they are gone, with an error that says so.
/// </summary>
[Collection(ClusterTests.Name)]
public sealed class ReducerVersionTests(ClusterFixture fixture)
{
    private const int Length = 3000;
    private const int BucketValues = 1024;
    private static readonly JobSpec Spec = new() { Preset = "tiny", BucketKiB = 4 };   // 1024 values a bucket

    [Fact]
    public async Task Reducer_AfterApplyingAStep_StillServesThatStepsParameters_ButNotTheOnesTwoStepsBack()
    {
        var silo = fixture.Cluster.Silos[0].SiloAddress;
        var reducer = fixture.Cluster.GrainFactory.GetGrain<IReducerGrain>(SiloKeys.Key("version-test/1.1/0", silo));
        var random = new Random(7);
        var initial = Values(random);
        await reducer.SetupAsync(new ReducerSetup("version-test", Spec, 0, 0, Length, 0, 0));
        await reducer.LoadAsync(new VectorBucket(ShardReducer.ParametersName, 0, 0, initial));

        // Step 0 is applied with no pull at version 0 (as after a copy's set-up): its parameters are still served.
        await reducer.OpenStepAsync(0, 1, 2, 1e-2);
        await AddAsync(reducer, 0, random);
        Assert.Equal(1, (await reducer.GetStateAsync()).Version);
        Assert.Equal(initial, await PullAsync(reducer, 0));
        var afterStep0 = await PullAsync(reducer, 1);
        Assert.NotEqual(initial, afterStep0);

        // A recomputed step 0's gradient leaves the shard as it is.
        Assert.Equal(ContributionOutcome.AlreadyApplied,
            await reducer.AddGradientAsync(new GradientBucket(0, 2, 0, 1, 0, Values(random)[..(BucketValues * sizeof(float))])));

        await reducer.OpenStepAsync(1, 1, 2, 1e-2);
        await AddAsync(reducer, 1, random);
        Assert.Equal(afterStep0, await PullAsync(reducer, 1));
        Assert.NotEqual(afterStep0, await PullAsync(reducer, 2));
        var gone = await Assert.ThrowsAnyAsync<InvalidOperationException>(() => reducer.GetBucketAsync(ShardReducer.ParametersName, 0, 0, BucketValues));
        Assert.Contains("has moved on to step 2; step 0 is gone", gone.Message, StringComparison.Ordinal);
        await reducer.ReleaseAsync();
    }

    /// <summary>The whole parameter vector at <paramref name="version"/>, pulled in the job's buckets as a worker does.</summary>
    private static async Task<byte[]> PullAsync(IReducerGrain reducer, long version)
    {
        var values = new List<byte>();
        for (var offset = 0; offset < Length; offset += BucketValues)
        {
            var bucket = await reducer.GetBucketAsync(ShardReducer.ParametersName, version, offset, Math.Min(BucketValues, Length - offset));
            values.AddRange(Assert.IsType<VectorBucket>(bucket).Values);
        }

        return [.. values];
    }

    /// <summary>Two workers' whole gradients for the step, each in one message.</summary>
    private static async Task AddAsync(IReducerGrain reducer, int step, Random random)
    {
        for (var worker = 0; worker < 2; worker++)
        {
            Assert.Equal(ContributionOutcome.Accepted, await reducer.AddGradientAsync(new GradientBucket(step, 1, worker, 1, 0, Values(random))));
        }
    }

    private static byte[] Values(Random random) =>
        MemoryMarshal.AsBytes(Enumerable.Range(0, Length).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray().AsSpan()).ToArray();
}
