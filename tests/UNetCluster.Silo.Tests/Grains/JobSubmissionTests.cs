using UNetCluster.Contracts.Jobs;

namespace UNetCluster.Silo.Tests.Grains;

/// <summary>Job specs are checked on submit; a refused one leaves no trace in the cluster.</summary>
[Collection(ClusterTests.Name)]
public sealed class JobSubmissionTests(ClusterFixture fixture)
{
    [Theory]
    [InlineData("no-such-data", null, null, null, "data set 'no-such-data' is unknown: expected one of isbi2012-em")]
    [InlineData("isbi2012-em", 125, null, null, "The --tile 125 is not valid for this U-Net")]
    [InlineData("isbi2012-em", null, 0, null, "workers 0 is invalid: expected an integer from 1 to 1024")]
    [InlineData("isbi2012-em", null, null, -5L, "steps -5 is invalid: expected an integer from 1 to 10000000")]
    [InlineData("../etc", null, null, null, "data set '../etc' is unknown")]
    public async Task Submit_InvalidSpec_IsRefusedWithAClearErrorAndLeavesNoTrace(string dataSet, int? tile, int? workers, long? steps, string expected)
    {
        var before = await fixture.Registry.ListAsync();
        var jobId = "refused-" + Guid.NewGuid().ToString("N")[..8];

        var result = await fixture.Registry.SubmitAsync(new JobSpec { DataSet = dataSet, Preset = "tiny", TileSize = tile, Workers = workers, Steps = steps }, jobId);

        Assert.False(result.Accepted);
        Assert.Contains(result.Errors, e => e.Contains(expected, StringComparison.Ordinal));
        Assert.Equal(before.Count, (await fixture.Registry.ListAsync()).Count);
        Assert.False(await fixture.Registry.ExistsAsync(jobId));
        Assert.False(Directory.Exists(Path.Combine(fixture.StorageRoot, "jobs", jobId)));
    }

    [Fact]
    public async Task Submit_SeveralErrors_AreAllReported()
    {
        var result = await fixture.Registry.SubmitAsync(new JobSpec { DataSet = "missing", Preset = "tiny", Workers = 0, Reducers = 0, BucketKiB = 1_000_000 });
        Assert.False(result.Accepted);
        Assert.Equal(4, result.Errors.Count);
    }

    [Fact]
    public async Task Submit_SpecWithoutChannels_StoresTheDataSetsChannelCountAndRefusesAnother()
    {
        var jobId = "channels-" + Guid.NewGuid().ToString("N")[..8];

        var refused = await fixture.Registry.SubmitAsync(new JobSpec { Preset = "tiny", Steps = 1, Channels = 3 }, jobId + "-rgb");
        var accepted = await fixture.Registry.SubmitAsync(new JobSpec { Preset = "tiny", Steps = 1 }, jobId);
        var status = await fixture.WaitAsync(jobId);

        Assert.Contains(refused.Errors, e => e.Contains("--channels 3 does not match data set 'isbi2012-em': its images have 1 channel", StringComparison.Ordinal));
        Assert.True(accepted.Accepted, string.Join("; ", accepted.Errors));
        Assert.Equal(1, status.Spec.Channels);
        Assert.Equal(JobState.Completed, status.State);
    }

    [Fact]
    public async Task Cancel_RunningJob_StopsAtAStepBoundaryWithACheckpoint()
    {
        var spec = new JobSpec { Preset = "tiny", Seed = 3, Steps = 10_000, Workers = 2, BatchSize = 2, CheckpointEvery = 1000 };
        var submitted = await fixture.Registry.SubmitAsync(spec, "to-cancel");
        Assert.True(submitted.Accepted, string.Join("; ", submitted.Errors));
        var job = fixture.Cluster.GrainFactory.GetGrain<Contracts.Grains.ITrainingJobGrain>("to-cancel");
        while ((await job.GetStatusAsync()).Step < 2)
        {
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }

        await job.CancelAsync();
        var status = await fixture.WaitAsync("to-cancel");

        Assert.Equal(JobState.Cancelled, status.State);
        Assert.True(status.Step is >= 2 and < 10_000);
        Assert.Equal(status.Step, status.CheckpointStep);
    }
}
