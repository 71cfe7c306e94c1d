using UNetCluster.Contracts.Grains;
using UNetCluster.Contracts.Jobs;

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
