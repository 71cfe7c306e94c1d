using System.Runtime.InteropServices;
using UNetCluster.Contracts.Grains;
using UNetCluster.Contracts.Jobs;
using UNetCluster.Contracts.Messages;
using UNetCluster.Model.Distributed;
using UNetCluster.Model.Optimization;
using UNetCluster.Training;

namespace UNetCluster.Silo.Tests.Grains;

/// <summary>
/// A reducer's copy on another silo (issue 18): set up from the reducer's state, then fed each applied step's mean,
/// it holds the reducer's parameters and optimizer state bit for bit; a copy that cannot take a step is dropped and
/// the reducer goes on.
/// </summary>
[Collection(ClusterTests.Name)]
public sealed class ReducerCopyTests(ClusterFixture fixture)
{
    private const int Length = 3000;
    private static readonly JobSpec Spec = new() { Preset = "tiny", BucketKiB = 4 };   // 1024 values a bucket: three buckets and a part

    [Fact]
    public async Task CopiedReducer_FedEachAppliedStep_HoldsTheSameParametersAndOptimizerStateBitForBit()
    {
        var silos = fixture.Cluster.Silos.Select(s => s.SiloAddress).ToList();
        var (primaryKey, copyKey) = (SiloKeys.Key("copy-test/1.1/0", silos[0]), SiloKeys.Key("copy-test/1.1/0c1", silos[1]));
        var (primary, copy) = (fixture.Cluster.GrainFactory.GetGrain<IReducerGrain>(primaryKey), fixture.Cluster.GrainFactory.GetGrain<IReducerGrain>(copyKey));
        var random = new Random(5);
        var setup = new ReducerSetup("copy-test", Spec, 0, 0, Length, 0, 0);
        await primary.SetupAsync(setup);
        await primary.LoadAsync(new VectorBucket(ShardReducer.ParametersName, 0, 0, Values(random)));
        await primary.OpenStepAsync(0, 1, 2, 1e-3);
        await AddAsync(primary, step: 0, random);                                    // a step before the copy exists

        await copy.CopyFromAsync(setup with { Version = 1 }, primaryKey);
        await primary.SetCopyAsync(copyKey);
        for (var step = 1; step < 4; step++)
        {
            await primary.OpenStepAsync(step, 1, 2, 1e-3 * step);
            await AddAsync(primary, step, random);
        }

        var (primaryState, copyState) = (await primary.GetStateAsync(), await copy.GetStateAsync());
        Assert.Equal((4L, 4L, copyKey), (primaryState.Version, primaryState.OptimizerSteps, primaryState.Copy));
        Assert.Equal((4L, 4L, (string?)null), (copyState.Version, copyState.OptimizerSteps, copyState.Copy));
        foreach (var name in FlatOptimizer.StateNames(OptimizerKind.Adam).Prepend(ShardReducer.ParametersName))
        {
            var expected = (await primary.GetBucketAsync(name, 4, 0, Length))!.Values;
            var actual = (await copy.GetBucketAsync(name, 4, 0, Length))!.Values;
            Assert.True(expected.AsSpan().SequenceEqual(actual), $"{name} differs between the reducer and its copy");
        }

        await primary.ReleaseAsync();
        await copy.ReleaseAsync();
    }

    [Fact]
    public async Task Reducer_WhoseCopyCannotTakeAStep_DropsItAndStillAppliesTheStep()
    {
        var silos = fixture.Cluster.Silos.Select(s => s.SiloAddress).ToList();
        var primaryKey = SiloKeys.Key("copy-lost/1.1/0", silos[2]);
        var primary = fixture.Cluster.GrainFactory.GetGrain<IReducerGrain>(primaryKey);
        var random = new Random(6);
        await primary.SetupAsync(new ReducerSetup("copy-lost", Spec, 0, 0, Length, 0, 0));
        await primary.SetCopyAsync(SiloKeys.Key("copy-lost/1.1/0c9", silos[0]));    // a reducer never set up: it holds no state

        await primary.OpenStepAsync(0, 1, 2, 1e-3);
        await AddAsync(primary, step: 0, random);

        var state = await primary.GetStateAsync();
        Assert.Equal(1, state.Version);
        Assert.Null(state.Copy);
        Assert.NotNull(await primary.GetBucketAsync(ShardReducer.ParametersName, 1, 0, 16));
        await primary.ReleaseAsync();
    }

    /// <summary>Two workers' whole gradients for the step, each in two buckets.</summary>
    private static async Task AddAsync(IReducerGrain reducer, int step, Random random)
    {
        for (var worker = 0; worker < 2; worker++)
        {
            var values = Values(random);
            var half = Length / 2 * sizeof(float);
            Assert.Equal(ContributionOutcome.Accepted, await reducer.AddGradientAsync(new GradientBucket(step, 1, worker, 1, 0, values[..half])));
            Assert.Equal(ContributionOutcome.Accepted, await reducer.AddGradientAsync(new GradientBucket(step, 1, worker, 1, Length / 2, values[half..])));
        }
    }

    private static byte[] Values(Random random) =>
        MemoryMarshal.AsBytes(Enumerable.Range(0, Length).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray().AsSpan()).ToArray();
}
