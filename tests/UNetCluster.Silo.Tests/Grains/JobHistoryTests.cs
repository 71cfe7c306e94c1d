using UNetCluster.Contracts.Grains;
using UNetCluster.Contracts.Jobs;
using UNetCluster.Data.Storage;
using UNetCluster.Training.Jobs;

namespace UNetCluster.Silo.Tests.Grains;

/// <summary>The bounded per-job step history behind the dashboard's curves and the REST API's events.</summary>
[Collection(ClusterTests.Name)]
public sealed class JobHistoryTests(ClusterFixture fixture)
{
    [Fact]
    public async Task AppendStep_BeyondTheBound_KeepsTheFirstStepAndTheNewestInFullWithinTheBound()
    {
        var history = fixture.Cluster.GrainFactory.GetGrain<IJobHistoryGrain>("history-bound-" + Guid.NewGuid().ToString("N")[..6]);
        const int appended = JobHistory.MaxPoints + 500;
        for (var step = 1; step <= appended; step++)
        {
            await AppendAsync(history, step, loss: 1.0 / step);
        }

        var kept = (await history.GetAsync(-1)).Steps.Select(p => p.Step).ToList();
        Assert.InRange(kept.Count, JobHistory.MaxPoints / 2, JobHistory.MaxPoints);
        Assert.Equal(1, kept[0]);
        Assert.Equal(appended, kept[^1]);
        Assert.Equal(kept.Order(), kept);
        var newest = kept.TakeLast(JobHistory.MaxPoints / 4).ToList();
        Assert.Equal(Enumerable.Range(appended - newest.Count + 1, newest.Count).Select(s => (long)s), newest);
    }

    [Fact]
    public async Task AppendStep_AtOrBelowTheLast_ReplacesTheStepsAfterIt()
    {
        var history = fixture.Cluster.GrainFactory.GetGrain<IJobHistoryGrain>("history-rewind-" + Guid.NewGuid().ToString("N")[..6]);
        for (var step = 1; step <= 10; step++)
        {
            await AppendAsync(history, step, loss: 1);
        }

        await AppendAsync(history, 7, loss: 0.5);   // the job went back to its checkpoint of step 6 and committed 7 again
        var steps = (await history.GetAsync(-1)).Steps;
        Assert.Equal(Enumerable.Range(1, 7).Select(s => (long)s), steps.Select(p => p.Step));
        Assert.Equal(0.5, steps[^1].Loss);
        Assert.Equal([6L, 7L], (await history.GetAsync(5)).Steps.Select(p => p.Step));
    }

    [Fact]
    public async Task GetAsync_NewActivation_ReadsBackTheHistoryStoredBesideTheRecordAndWritesItsAppendsBehind()
    {
        var ct = TestContext.Current.CancellationToken;
        var jobId = "history-stored-" + Guid.NewGuid().ToString("N")[..6];
        var blobs = new FileBlobStore(fixture.StorageRoot);

        // What an activation on a silo that then died had written: ten steps and a checkpoint.
        var before = await JobHistoryStore.OpenAsync(blobs, jobId, cancellationToken: ct);
        for (var step = 1; step <= 10; step++)
        {
            before.Append(new JobHistoryEntry(Step: new StepPoint(step, DateTimeOffset.UtcNow, 1.0 / step, null, 1, 0.1, [])));
        }

        before.Append(new JobHistoryEntry(Checkpoint: new CheckpointPoint(10, DateTimeOffset.UtcNow, "jobs/x/checkpoints/000000010", 0.5, 100)));
        await before.FlushAsync(ct);

        var history = fixture.Cluster.GrainFactory.GetGrain<IJobHistoryGrain>(jobId);
        var read = await history.GetAsync(-1);
        Assert.Equal(Enumerable.Range(1, 10).Select(s => (long)s), read.Steps.Select(p => p.Step));
        Assert.Equal([10L], read.Checkpoints.Select(c => c.Step));

        // The job goes on: the new activation's appends reach storage within about a second, without a deactivation.
        await AppendAsync(history, 11, loss: 0.05);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        IReadOnlyList<long> stored;
        while ((stored = [.. (await JobHistoryStore.OpenAsync(blobs, jobId, cancellationToken: ct)).Get().Steps.Select(p => p.Step)]).Count < 11)
        {
            Assert.True(DateTime.UtcNow < deadline, $"step 11 was not written behind: storage holds {string.Join(", ", stored)}");
            await Task.Delay(100, ct);
        }

        Assert.Equal(Enumerable.Range(1, 11).Select(s => (long)s), stored);
    }

    /// <summary>Appends (a one-way call) and waits until the grain has it, so points arrive in order.</summary>
    private static async Task AppendAsync(IJobHistoryGrain history, long step, double loss)
    {
        var before = (await history.GetAsync(long.MaxValue)).Revision;
        await history.AppendStepAsync(new StepPoint(step, DateTimeOffset.UtcNow, loss, null, 1, 0.1, []));
        while ((await history.GetAsync(long.MaxValue)).Revision == before)
        {
            await Task.Delay(1);
        }
    }
}
