using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Runtime;
using UNetCluster.Contracts.Jobs;
using UNetCluster.Contracts.Messages;
using UNetCluster.Data.Storage;
using UNetCluster.Training.Coordination;
using UNetCluster.Training.Jobs;
using UNetCluster.Training.Settings;

namespace UNetCluster.Training.Tests.Coordination;

/// <summary>
/// The coordinator's step loop without a cluster: a scripted <see cref="IJobCluster"/> whose workers report at once
/// (or fall silent, or fail), and the job's record in a folder store. What a user sees is the job's record: its state,
/// step, recomputed steps, restores and checkpoint.
/// </summary>
public sealed class StepLoopTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "unetcluster-tests", "steploop-" + Guid.NewGuid().ToString("N"));
    private readonly JobRecordStore _records;

    public StepLoopTests() => _records = new JobRecordStore(new JobStorage(new StorageSettings { Root = _root }));

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Fact]
    public async Task RunAsync_WorkersReport_CommitsEveryStepOnceAndCompletesWithAFinalCheckpoint()
    {
        var cluster = new ScriptedCluster(workers: 2);
        var (loop, _) = await StartAsync("loop-plain", cluster, new JobSpec { Preset = "tiny", Steps = 5, BatchSize = 4, CheckpointEvery = 2 });
        cluster.Loop = loop;

        await loop.RunAsync().WaitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken);

        var status = await ReadAsync("loop-plain");
        Assert.Equal(JobState.Completed, status.State);
        Assert.Equal(5, status.Step);
        Assert.Equal(0, status.RecomputedSteps);
        Assert.Equal(0, status.Restores);
        Assert.Equal(5, status.CheckpointStep);
        Assert.Equal([0L, 1, 2, 3, 4], cluster.Committed);
        Assert.Equal([2L, 4, 5], cluster.Checkpoints);
        Assert.All(cluster.Plans, p => Assert.Equal(2, p.Tiles.Count));              // 4 tiles over 2 workers
        Assert.Equal(2, cluster.ReleasedWorkers.Count);
        Assert.Equal(4, cluster.ReleasedReducers.Count);                              // two reducers and their copies
    }

    [Fact]
    public async Task RunAsync_WorkerLostMidStep_RecomputesThatStepOverTheSurvivorsWithTheSameTiles()
    {
        // One reducer, on the first worker's silo: losing the second worker loses no reducer state.
        var cluster = new ScriptedCluster(workers: 2) { SilenceAt = (Step: 2, Worker: 1) };
        var (loop, _) = await StartAsync("loop-lost", cluster, new JobSpec { Preset = "tiny", Steps = 4, BatchSize = 4, Reducers = 1, CheckpointEvery = 100 });
        cluster.Loop = loop;

        await loop.RunAsync().WaitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken);

        var status = await ReadAsync("loop-lost");
        Assert.Equal(JobState.Completed, status.State);
        Assert.Equal(4, status.Step);
        Assert.Equal(1, status.RecomputedSteps);
        Assert.Equal(0, status.Restores);                                             // the reducers kept their state
        var recomputed = cluster.Plans.Where(p => p.Step == 2).GroupBy(p => p.Attempt).OrderBy(g => g.Key).ToList();
        Assert.Equal(2, recomputed.Count);
        Assert.Equal([0L, 1, 2, 3], recomputed[1].Single().Tiles);                    // the survivor takes every tile
        Assert.Equal([0L, 1, 2, 3], cluster.Committed);
    }

    [Fact]
    public async Task RunAsync_ReducerStateLost_SetsTheReducersUpAgainAndGoesOn()
    {
        var cluster = new ScriptedCluster(workers: 2) { FailAt = 1, LoseReducersAt = 1 };
        var (loop, _) = await StartAsync("loop-restore", cluster, new JobSpec { Preset = "tiny", Steps = 3, BatchSize = 2, CheckpointEvery = 100 });
        cluster.Loop = loop;

        await loop.RunAsync().WaitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken);

        var status = await ReadAsync("loop-restore");
        Assert.Equal(JobState.Completed, status.State);
        Assert.Equal(1, status.RecomputedSteps);
        Assert.Equal(1, status.Restores);
        Assert.Equal(2, cluster.Restores.Count);
        Assert.Empty(cluster.Restores[0].Reducers.Intersect(cluster.Restores[1].Reducers));   // a new generation of reducers
    }

    [Fact]
    public async Task RunAsync_AWorkerKeepsFailing_FailsTheJobNamingTheStepAndTheError()
    {
        var cluster = new ScriptedCluster(workers: 1) { FailAt = 1, FailAlways = true };
        var (loop, _) = await StartAsync("loop-fail", cluster, new JobSpec { Preset = "tiny", Steps = 3, BatchSize = 1, CheckpointEvery = 100 });
        cluster.Loop = loop;

        await loop.RunAsync().WaitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken);

        var status = await ReadAsync("loop-fail");
        Assert.Equal(JobState.Failed, status.State);
        Assert.Contains("Step 1 failed", status.Error, StringComparison.Ordinal);
        Assert.Contains("scripted failure", status.Error, StringComparison.Ordinal);
        Assert.Contains("(tiles 0) failed", status.Error, StringComparison.Ordinal);                   // the worker's tiles of that step
        Assert.StartsWith("step 1: worker ", status.LastRecompute, StringComparison.Ordinal);
        Assert.Equal(1, status.Step);
    }

    [Fact]
    public async Task Cancel_DuringAStep_StopsAtTheNextBoundaryWithACheckpoint()
    {
        var cluster = new ScriptedCluster(workers: 1);
        var (loop, _) = await StartAsync("loop-cancel", cluster, new JobSpec { Preset = "tiny", Steps = 1000, BatchSize = 1, CheckpointEvery = 1000 });
        cluster.Loop = loop;
        cluster.OnCommitted = step =>
        {
            if (step == 3)
            {
                loop.Cancel();
            }
        };

        await loop.RunAsync().WaitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken);

        var status = await ReadAsync("loop-cancel");
        Assert.Equal(JobState.Cancelled, status.State);
        Assert.Equal(4, status.Step);
        Assert.Equal(4, status.CheckpointStep);
    }

    [Fact]
    public async Task RunAsync_AnotherCoordinatorTakesTheRecord_StopsWithoutWritingOverIt()
    {
        var cluster = new ScriptedCluster(workers: 1) { StepDelay = TimeSpan.FromMilliseconds(20) };
        var (loop, _) = await StartAsync("loop-fenced", cluster, new JobSpec { Preset = "tiny", Steps = 1000, BatchSize = 1, CheckpointEvery = 1000 });
        cluster.Loop = loop;
        var second = new JobLease("loop-fenced", "silo-b", _records, NullLogger.Instance);
        cluster.OnCommitted = step =>
        {
            if (step == 2)
            {
                Assert.True(second.TryTakeOverAsync("b", CancellationToken.None).GetAwaiter().GetResult());
            }
        };

        await loop.RunAsync().WaitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken);

        var stored = await _records.ReadAsync("loop-fenced", TestContext.Current.CancellationToken);
        Assert.StartsWith("silo-b#b#", stored!.Record.Owner, StringComparison.Ordinal);
        Assert.Equal(JobState.Pending, stored.Record.Status.State);                     // the second coordinator's, untouched
        Assert.True(cluster.Committed.Count < 200, $"{cluster.Committed.Count} steps committed: the loop did not stop when its record was taken");
        Assert.Empty(cluster.ReleasedWorkers);
    }

    [Fact]
    public async Task RunAsync_MoreWorkersAskedForThanLive_ShowsWhatItWaitsForInTheRecordAndClearsItOnceItSteps()
    {
        var cluster = new ScriptedCluster(workers: 2);
        var (loop, _) = await StartAsync("loop-waiting", cluster, new JobSpec { Preset = "tiny", Steps = 2, BatchSize = 2, Workers = 5 });
        cluster.Loop = loop;

        var running = loop.RunAsync();
        var waiting = await PollAsync("loop-waiting", s => s.Waiting is not null);

        Assert.Equal(JobState.Pending, waiting.State);
        Assert.Equal("waiting for 5 workers, 2 live", waiting.Waiting);
        Assert.Empty(cluster.Plans);
        loop.Cancel();
        await running.WaitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken);
        Assert.Equal(JobState.Cancelled, (await ReadAsync("loop-waiting")).State);
    }

    [Fact]
    public async Task RunAsync_TakenOverMoreTimesThanAllowedWithoutAStep_FailsWithTheReasonInsteadOfResuming()
    {
        var cluster = new ScriptedCluster(workers: 1);
        await StartAsync("loop-takeovers", cluster, new JobSpec { Preset = "tiny", Steps = 3, BatchSize = 1 });
        JobLease lease = null!;
        for (var takeover = 1; takeover <= 3; takeover++)
        {
            // Each coordinator's silo dies before its first step; the next one takes the record over.
            lease = new JobLease("loop-takeovers", $"silo-{takeover}", _records, NullLogger.Instance);
            Assert.True(await lease.TryTakeOverAsync($"t{takeover}", TestContext.Current.CancellationToken));
        }

        var loop = new StepLoop("loop-takeovers", lease, cluster, NullLogger.Instance, new StepLoopLimits(MaxTakeoversWithoutStep: 2));
        cluster.Loop = loop;
        await loop.RunAsync().WaitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken);

        var status = await ReadAsync("loop-takeovers");
        Assert.Equal(JobState.Failed, status.State);
        Assert.Contains("taken over 3 times without committing a step", status.Error, StringComparison.Ordinal);
        Assert.Empty(cluster.Plans);
    }

    [Fact]
    public async Task RunAsync_TakenOverButCommittingSteps_ResetsTheCountAndCompletes()
    {
        var cluster = new ScriptedCluster(workers: 1);
        await StartAsync("loop-progress", cluster, new JobSpec { Preset = "tiny", Steps = 2, BatchSize = 1 });
        var second = new JobLease("loop-progress", "silo-b", _records, NullLogger.Instance);
        Assert.True(await second.TryTakeOverAsync("b", TestContext.Current.CancellationToken));
        var loop = new StepLoop("loop-progress", second, cluster, NullLogger.Instance, new StepLoopLimits(MaxTakeoversWithoutStep: 1));
        cluster.Loop = loop;

        await loop.RunAsync().WaitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken);

        var status = await ReadAsync("loop-progress");
        Assert.Equal(JobState.Completed, status.State);
        Assert.Equal((1, 0), (status.Takeovers, status.TakeoversWithoutStep));
    }

    [Fact]
    public async Task RunAsync_StepEstimatedLargerThanTheNodesMemory_FailsBeforeAnyStepNamingTheOptions()
    {
        var cluster = new ScriptedCluster(workers: 1);
        var id = "loop-memory";
        var now = DateTimeOffset.UtcNow;
        var spec = new JobSpec { Preset = "tiny", Steps = 3, BatchSize = 4 };
        await _records.CreateAsync(new JobRecord(new JobStatus { Id = id, Spec = spec, Created = now, Updated = now }, string.Empty, 0), TestContext.Current.CancellationToken);
        var lease = new JobLease(id, "silo-a", _records, NullLogger.Instance);
        Assert.True(await lease.TryTakeOverAsync("a", TestContext.Current.CancellationToken));
        var loop = new StepLoop(id, lease, cluster, NullLogger.Instance, new StepLoopLimits(MemoryBytes: 64L << 20));
        cluster.Loop = loop;

        await loop.RunAsync().WaitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken);

        // Four 124 px tiles of the tiny preset on one worker: about 87 MiB by the estimate, over the 64 MiB given.
        var status = await ReadAsync(id);
        Assert.Equal(JobState.Failed, status.State);
        Assert.Contains("needs about", status.Error, StringComparison.Ordinal);
        Assert.Contains("4 tile(s) of 124 px", status.Error, StringComparison.Ordinal);
        Assert.Contains("more than the 64 MiB a node has", status.Error, StringComparison.Ordinal);
        Assert.Empty(cluster.Plans);
        Assert.Empty(cluster.Restores);
    }

    private async Task<JobStatus> PollAsync(string id, Func<JobStatus, bool> done)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var status = await ReadAsync(id);
            if (done(status) || DateTime.UtcNow > deadline)
            {
                return status;
            }

            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
    }

    [Fact]
    public async Task RunAsync_Validations_KeepTheBestStepAsTheBestCheckpointWithItsThreshold()
    {
        double[] errors = [0.30, 0.20, 0.25, 0.22];   // validations at steps 2, 4, 6 and 8: the best is step 4
        var cluster = new ScriptedCluster(workers: 2)
        {
            Scores = (step, worker) => Section([0.4, 0.5], pixelError: [errors[(step / 2) - 1], errors[(step / 2) - 1] + 0.05], randError: [0.5, 0.5]),
        };
        var (loop, _) = await StartAsync("loop-best", cluster, new JobSpec { Preset = "tiny", Steps = 8, BatchSize = 2, CheckpointEvery = 100, ValidateEvery = 2 });
        cluster.Loop = loop;

        await loop.RunAsync().WaitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken);

        var status = await ReadAsync("loop-best");
        Assert.Equal(JobState.Completed, status.State);
        Assert.Equal([2L, 2, 4, 4, 6, 6, 8, 8], cluster.ValidationPlans.Select(p => p.Version));         // both workers, each time
        Assert.All(cluster.ValidationPlans, p => Assert.Equal(2, p.Workers));
        Assert.Equal(4, status.BestValidation!.Step);
        Assert.Equal("pixel-error", status.BestValidation.Metric);
        Assert.Equal(0.20, status.BestValidation.Value, 9);
        Assert.Equal(0.4, status.BestValidation.Threshold);                                             // the lower error's threshold
        Assert.Equal(8, status.Validation!.Step);
        Assert.Equal(2, status.ValidationsWithoutImprovement);
        Assert.Equal("jobs/loop-best/checkpoints/000000004", status.BestCheckpoint);
        var marked = cluster.CheckpointPlans.Where(p => p.Best is not null).Select(p => p.Version).ToList();
        Assert.Equal([2L, 4], marked);                                                                  // each improvement, and only those
        Assert.Equal(8, cluster.Checkpoints[^1]);                                                       // the final checkpoint as before
    }

    [Fact]
    public async Task RunAsync_ALaterValidationWithinOneStandardErrorOfTheLowest_BecomesTheBestAndAFartherOneDoesNot()
    {
        // Two sections (one per worker). The lowest mean error is step 4's 0.20 (0.15 and 0.25). Step 6's sections differ
        // from it by +0.11 and -0.03: mean +0.04, standard error of the paired difference 0.07, so the later checkpoint is
        // the best; step 8's differ by +0.15 and +0.01: mean +0.08, beyond its standard error of 0.07.
        double[][] errors = [[0.35, 0.25], [0.15, 0.25], [0.26, 0.22], [0.30, 0.26]];
        var cluster = new ScriptedCluster(workers: 2)
        {
            Scores = (step, worker) => Section([0.5], pixelError: [errors[(step / 2) - 1][worker]], randError: [0.5], id: $"s{worker}"),
        };
        var (loop, _) = await StartAsync("loop-within", cluster, new JobSpec { Preset = "tiny", Steps = 8, BatchSize = 2, CheckpointEvery = 100, ValidateEvery = 2 });
        cluster.Loop = loop;

        await loop.RunAsync().WaitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken);

        var status = await ReadAsync("loop-within");
        Assert.Equal(JobState.Completed, status.State);
        Assert.Equal((6L, 0.24), (status.BestValidation!.Step, Math.Round(status.BestValidation.Value, 9)));
        Assert.Equal((4L, 0.20), (status.HighestValidation!.Step, Math.Round(status.HighestValidation.Value, 9)));
        Assert.Equal(0.05, status.HighestValidation.StandardError, 9);                                  // of its own mean, unpaired
        Assert.Equal(0.07, status.Validation!.SelectionMargin!.Value, 9);                              // step 8's, paired
        Assert.Equal(0.07, status.BestValidation.SelectionMargin!.Value, 9);
        Assert.Equal(2, status.ValidationsWithoutImprovement);                                          // neither 6 nor 8 lowered the error
        Assert.Equal([2L, 4, 6], cluster.CheckpointPlans.Where(p => p.Best is not null).Select(p => p.Version));
        Assert.Equal("jobs/loop-within/checkpoints/000000006", status.BestCheckpoint);
    }

    [Fact]
    public async Task RunAsync_SelectByRandError_CalibratesTheThresholdForRandErrorNotPixelError()
    {
        // Pixel error is lowest at 0.3, Rand error at 0.7: the threshold follows the chosen metric.
        var cluster = new ScriptedCluster(workers: 1)
        {
            Scores = (_, _) => Section([0.3, 0.5, 0.7], pixelError: [0.08, 0.09, 0.12], randError: [0.6, 0.4, 0.25]),
        };
        var (loop, _) = await StartAsync("loop-rand", cluster, new JobSpec { Preset = "tiny", Steps = 2, BatchSize = 2, SelectBy = "rand-error" });
        cluster.Loop = loop;

        await loop.RunAsync().WaitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken);

        var status = await ReadAsync("loop-rand");
        Assert.Equal("rand-error", status.BestValidation!.Metric);
        Assert.Equal(0.7, status.BestValidation.Threshold);
        Assert.Equal(0.25, status.BestValidation.RandError, 9);
        Assert.Equal(0.12, status.BestValidation.PixelError, 9);                                        // reported at the same threshold
        Assert.Equal(0.7, cluster.CheckpointPlans.Single(p => p.Best is not null).Best!.Threshold);
    }

    [Fact]
    public async Task RunAsync_NoImprovementForPatienceValidations_StopsEarlyWithTheReason()
    {
        double[] errors = [0.30, 0.20, 0.25, 0.26, 0.10];
        var cluster = new ScriptedCluster(workers: 1) { Scores = (step, _) => Section([0.5], pixelError: [errors[(int)step - 1]], randError: [0.5]) };
        var (loop, _) = await StartAsync("loop-patience", cluster, new JobSpec { Preset = "tiny", Steps = 5, BatchSize = 2, ValidateEvery = 1, Patience = 2 });
        cluster.Loop = loop;

        await loop.RunAsync().WaitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken);

        var status = await ReadAsync("loop-patience");
        Assert.Equal(JobState.Completed, status.State);
        Assert.Equal(4, status.Step);                                                                   // step 5 never ran
        Assert.StartsWith("early stopping: no better pixel-error in 2 validations (best 0.2 at step 2)", status.StopReason, StringComparison.Ordinal);
        Assert.Equal(4, status.CheckpointStep);                                                         // the final checkpoint is still written
    }

    [Fact]
    public async Task RunAsync_ValidationsLongerThanTheBudget_DoNotCountAsTrainingTime()
    {
        // Three validations of 1.5 s each outlast a 3 s budget; the steps themselves take milliseconds, so the budget,
        // which counts training time only, never runs out, and the job runs all its steps.
        var cluster = new ScriptedCluster(workers: 1) { ValidationDelay = TimeSpan.FromSeconds(1.5) };
        var (loop, _) = await StartAsync("loop-budget", cluster, new JobSpec { Preset = "tiny", Steps = 3, BatchSize = 2, ValidateEvery = 1, Minutes = 0.05 });
        cluster.Loop = loop;

        await loop.RunAsync().WaitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken);

        var status = await ReadAsync("loop-budget");
        Assert.Equal(JobState.Completed, status.State);
        Assert.Equal(3, status.Step);
        Assert.NotEqual("time budget reached", status.StopReason);
        Assert.True(status.Elapsed >= TimeSpan.FromSeconds(4.5), $"the status's elapsed time is wall time, validations included: {status.Elapsed}");
        Assert.True(status.TrainingTime < TimeSpan.FromSeconds(3), $"the job's training time leaves the validations out: {status.TrainingTime}");
        Assert.True(status.TilesPerSecond > 2 * 3 / 4.5, $"the throughput counts training time only: {status.TilesPerSecond} tiles/s");
    }

    [Fact]
    public async Task RunAsync_TakenOverAfterItsBudgetWasSpent_StopsInsteadOfStartingTheBudgetAgain()
    {
        // The record says the coordinators before this one trained the job for 10 s of its 6 s budget: the new one
        // counts on from there, so it finds the budget spent instead of training another 6 s.
        var cluster = new ScriptedCluster(workers: 1);
        var (loop, _) = await StartAsync("loop-budget-takeover", cluster, new JobSpec { Preset = "tiny", Steps = 5, BatchSize = 2, Minutes = 0.1 },
            s => s with { TrainingTime = TimeSpan.FromSeconds(10), State = JobState.Running });
        cluster.Loop = loop;

        await loop.RunAsync().WaitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken);

        var status = await ReadAsync("loop-budget-takeover");
        Assert.Equal(JobState.Completed, status.State);
        Assert.Equal("time budget reached", status.StopReason);
        Assert.Empty(cluster.Plans);
        Assert.Equal(TimeSpan.FromSeconds(10), status.TrainingTime);
    }

    [Fact]
    public async Task RunAsync_SelectByObjectF1OnBinaryMasks_FailsTheJobNamingTheOption()
    {
        var cluster = new ScriptedCluster(workers: 1);
        var (loop, _) = await StartAsync("loop-f1", cluster, new JobSpec { Preset = "tiny", Steps = 3, BatchSize = 2, ValidateEvery = 1, SelectBy = "object-f1" });
        cluster.Loop = loop;

        await loop.RunAsync().WaitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken);

        var status = await ReadAsync("loop-f1");
        Assert.Equal(JobState.Failed, status.State);
        Assert.Contains("--select-by object-f1 needs instance masks", status.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_ReducerSiloLost_ItsCopyTakesOverAndOnlyTheStepInFlightIsRecomputed()
    {
        // Three silos, a reducer on each and its copy on the next: the second silo dies during step 2.
        var cluster = new ScriptedCluster(workers: 3) { SilenceAt = (Step: 2, Worker: 1) };
        var (loop, _) = await StartAsync("loop-copy", cluster, new JobSpec { Preset = "tiny", Steps = 5, BatchSize = 3, Reducers = 3, CheckpointEvery = 100 });
        cluster.Loop = loop;

        await loop.RunAsync().WaitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken);

        var status = await ReadAsync("loop-copy");
        Assert.Equal(JobState.Completed, status.State);
        Assert.Equal([0L, 1, 2, 3, 4], cluster.Committed);
        Assert.True((1, 0, 1) == (status.RecomputedSteps, status.Restores, status.ReducersRecovered), $"{status.RecomputedSteps} recomputed, {status.Restores} restores, {status.ReducersRecovered} recovered; last: {status.LastRecompute}");
        Assert.Single(cluster.Restores);                                             // set up once, at the start
        Assert.Equal(3, cluster.CopiesMade.Count(c => c.Version == 0));               // a copy per shard before step 0
        Assert.Equal(2, cluster.CopiesMade.Count(c => c.Version == 2));               // the promoted shard's and the one whose copy died
        AssertSpread(status, cluster, silos: 2);
    }

    [Fact]
    public async Task RunAsync_SiloJoins_TakesOverAReducerOrCopyAtAStepBoundary()
    {
        var cluster = new ScriptedCluster(workers: 2) { JoinAfter = 1 };
        var (loop, _) = await StartAsync("loop-join", cluster, new JobSpec { Preset = "tiny", Steps = 5, BatchSize = 2, Reducers = 2, CheckpointEvery = 100 });
        cluster.Loop = loop;

        await loop.RunAsync().WaitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken);

        var status = await ReadAsync("loop-join");
        Assert.Equal(JobState.Completed, status.State);
        Assert.Equal(0, status.Restores);
        var joined = SiloKeys.SiloOf(cluster.Joined);
        Assert.Contains(status.Reducers.Concat(status.ReducerCopies), k => SiloKeys.SiloOf(k).Equals(joined));
        Assert.All(cluster.CopiesMade.Where(c => c.Version >= 2), c => Assert.Equal(joined, SiloKeys.SiloOf(c.Copy)));   // moved after the join
        AssertSpread(status, cluster, silos: 3);
    }

    [Fact]
    public async Task RunAsync_TakenOverWithLiveReducers_AdoptsThemInsteadOfGoingBackToACheckpoint()
    {
        var silos = new ScriptedCluster(workers: 2).LiveWorkers(null).Select(SiloKeys.SiloOf).ToList();
        string[] reducers = [SiloKeys.Key("loop-adopt/1.1/0", silos[0]), SiloKeys.Key("loop-adopt/1.1/1", silos[1])];
        string[] copies = [SiloKeys.Key("loop-adopt/1.1/0c1", silos[1]), SiloKeys.Key("loop-adopt/1.1/1c2", silos[0])];
        var cluster = new ScriptedCluster(workers: 2) { StartVersion = 3 };
        cluster.CopyOf[reducers[0]] = copies[0];
        cluster.CopyOf[reducers[1]] = copies[1];
        var (loop, _) = await StartAsync("loop-adopt", cluster, new JobSpec { Preset = "tiny", Steps = 5, BatchSize = 2, Reducers = 2, CheckpointEvery = 100 },
            s => s with { Step = 3, Parameters = 1000, Reducers = reducers, ReducerCopies = copies, State = JobState.Running });
        cluster.Loop = loop;

        await loop.RunAsync().WaitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken);

        var status = await ReadAsync("loop-adopt");
        Assert.Equal(JobState.Completed, status.State);
        Assert.Empty(cluster.Restores);                                               // no checkpoint read
        Assert.Equal([3L, 4], cluster.Committed);
        Assert.Equal(0, status.Restores);
        Assert.Equal(reducers, status.Reducers);                                     // the same grains, copies kept
        Assert.Equal(copies, status.ReducerCopies);
        Assert.Empty(cluster.CopiesMade);
        Assert.Contains(reducers[0], cluster.StateAsked);
        Assert.All(cluster.Plans, p => Assert.Equal(reducers, p.Reducers));
        Assert.All(cluster.Plans, p => Assert.True(p.Attempt > 4_000_000, $"attempt {p.Attempt} may repeat one of the coordinator before"));
    }

    [Fact]
    public async Task RunAsync_ReducerCopiesOff_SetsNoCopyUpAndGoesBackToTheCheckpointWhenAReducerSiloIsLost()
    {
        var cluster = new ScriptedCluster(workers: 3) { SilenceAt = (Step: 2, Worker: 1) };
        var (loop, _) = await StartAsync("loop-nocopy", cluster, new JobSpec { Preset = "tiny", Steps = 4, BatchSize = 3, Reducers = 3, CheckpointEvery = 100, ReducerCopies = false });
        cluster.Loop = loop;

        await loop.RunAsync().WaitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken);

        var status = await ReadAsync("loop-nocopy");
        Assert.Equal(JobState.Completed, status.State);
        Assert.Empty(cluster.CopiesMade);
        Assert.Empty(status.ReducerCopies);
        Assert.True((1, 0) == (status.Restores, status.ReducersRecovered), $"{status.Restores} restores, {status.ReducersRecovered} recovered; last: {status.LastRecompute}");
        Assert.Equal(2, cluster.Restores.Count);
    }

    /// <summary>Every shard has a copy on a live silo other than its reducer's, and each reducer hands its steps to it.</summary>
    private static void AssertSpread(JobStatus status, ScriptedCluster cluster, int silos)
    {
        Assert.Equal(status.Reducers.Count, status.ReducerCopies.Count);
        for (var k = 0; k < status.Reducers.Count; k++)
        {
            Assert.NotEqual("", status.ReducerCopies[k]);
            Assert.True(cluster.IsAlive(status.Reducers[k]) && cluster.IsAlive(status.ReducerCopies[k]), $"shard {k} on a dead silo");
            Assert.NotEqual(SiloKeys.SiloOf(status.Reducers[k]), SiloKeys.SiloOf(status.ReducerCopies[k]));
            Assert.Equal(status.ReducerCopies[k], cluster.CopyOf[status.Reducers[k]]);
        }

        Assert.Equal(silos, status.Reducers.Concat(status.ReducerCopies).Select(SiloKeys.SiloOf).Distinct().Count());
    }

    private static SectionValidation Section(double[] thresholds, double[] pixelError, double[] randError, string id = "s") =>
        new(id, thresholds, pixelError, randError, [.. thresholds.Select(_ => 0.9)], [.. thresholds.Select(_ => 0.8)], null, null);

    private async Task<(StepLoop Loop, JobLease Lease)> StartAsync(string id, ScriptedCluster cluster, JobSpec spec, Func<JobStatus, JobStatus>? recorded = null)
    {
        var now = DateTimeOffset.UtcNow;
        var status = new JobStatus { Id = id, Spec = spec, Created = now, Updated = now };
        await _records.CreateAsync(new JobRecord(recorded?.Invoke(status) ?? status, string.Empty, 0), TestContext.Current.CancellationToken);
        var lease = new JobLease(id, "silo-a", _records, NullLogger.Instance);
        Assert.True(await lease.TryTakeOverAsync("a", TestContext.Current.CancellationToken));
        return (new StepLoop(id, lease, cluster, NullLogger.Instance), lease);
    }

    private async Task<JobStatus> ReadAsync(string id) => (await _records.ReadAsync(id, TestContext.Current.CancellationToken))!.Record.Status;

    /// <summary>Workers that report as soon as they are started, unless the script says otherwise; reducers that are always intact unless lost.</summary>
    private sealed class ScriptedCluster(int workers) : IJobCluster
    {
        // One more silo than asked for, which has not joined (is dead) until JoinAfter.
        private readonly List<string> _workers = [.. Enumerable.Range(0, workers + 1)
            .Select(i => SiloKeys.WorkerKey(SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11111 + i), 1))).Order(StringComparer.Ordinal)];
        private readonly HashSet<string> _dead = new(StringComparer.Ordinal)
        {
            SiloKeys.WorkerKey(SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11111 + workers), 1)),
        };
        private bool _reducersLost;
        private bool _silenced;
        private bool _failed;
        private (long Step, string Location)? _best;

        public StepLoop? Loop { get; set; }

        public (long Step, int Worker)? SilenceAt { get; init; }

        public long? FailAt { get; init; }

        public bool FailAlways { get; init; }

        public long? LoseReducersAt { get; init; }

        public Action<long>? OnCommitted { get; set; }

        public TimeSpan StepDelay { get; init; }

        public List<StepPlan> Plans { get; } = [];

        public List<long> Committed { get; } = [];

        public List<long> Checkpoints { get; } = [];

        public List<RestorePlan> Restores { get; } = [];

        public List<string> ReleasedWorkers { get; } = [];

        public List<string> ReleasedReducers { get; } = [];

        public List<(string Copy, string Source, long Version)> CopiesMade { get; } = [];

        /// <summary>Each reducer's copy as last set (null: none).</summary>
        public Dictionary<string, string?> CopyOf { get; } = new(StringComparer.Ordinal);

        /// <summary>A silo that joins after this step is committed (its worker becomes live).</summary>
        public long? JoinAfter { get; init; }

        public IReadOnlyList<string> LiveWorkers(int? limit) => [.. _workers.Where(w => !_dead.Contains(w)).Take(limit ?? int.MaxValue)];

        public Task CopyReducerAsync(string copy, ReducerSetup setup, string source)
        {
            Assert.True(IsAlive(source) && IsAlive(copy), $"copying {source} to {copy} with a dead silo");
            Assert.NotEqual(SiloKeys.SiloOf(source), SiloKeys.SiloOf(copy));
            CopiesMade.Add((copy, source, setup.Version));
            return Task.CompletedTask;
        }

        public Task SetReducerCopyAsync(string reducer, string? copy)
        {
            CopyOf[reducer] = copy;
            return Task.CompletedTask;
        }

        public bool IsAlive(string key) => !_dead.Contains(SiloKeys.WorkerKey(SiloKeys.SiloOf(key)));

        public Task OpenStepAsync(string reducer, long stepIndex, int attempt, int workers, double learningRate) => Task.Delay(StepDelay);

        public Task StartStepAsync(string worker, StepPlan plan)
        {
            Plans.Add(plan);
            if (SilenceAt is { } silence && plan.Step == silence.Step && plan.WorkerIndex == silence.Worker && !_silenced)
            {
                _silenced = true;
                _dead.Add(worker);   // its silo died before it reported
                return Task.CompletedTask;
            }

            string? error = null;
            if (FailAt == plan.Step && (FailAlways || !_failed))
            {
                (_failed, error) = (true, "scripted failure");
                _reducersLost = LoseReducersAt == plan.Step;
            }

            Loop!.Report(new StepReport(worker, plan.Step, plan.Attempt, plan.WorkerIndex, 0.5, plan.Tiles.Count, 100, 100, TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(1), error));
            return Task.CompletedTask;
        }

        public Task<RestoreResult> RestoreAsync(string worker, RestorePlan plan)
        {
            Restores.Add(plan);
            _reducersLost = false;
            return Task.FromResult(new RestoreResult(Committed.Count == 0 ? 0 : Committed[^1] + 1, 1000, null));
        }

        /// <summary>The step the reducers hold before this cluster commits any (a job taken over).</summary>
        public long StartVersion { get; init; }

        /// <summary>The worker of the silo that joins after <see cref="JoinAfter"/>.</summary>
        public string Joined => _workers.Single(w => w.Contains($":{11111 + workers}@", StringComparison.Ordinal));

        public List<string> StateAsked { get; } = [];

        public Task<ReducerState> GetReducerStateAsync(string reducer)
        {
            StateAsked.Add(reducer);
            return Task.FromResult(_reducersLost
                ? new ReducerState(false, -1, 0, 0)
                : new ReducerState(true, Committed.Count == 0 ? StartVersion : Committed[^1] + 1, 0, 500, 0, CopyOf.GetValueOrDefault(reducer)));
        }

        public Task<CheckpointResult> WriteCheckpointAsync(string worker, CheckpointPlan plan)
        {
            Checkpoints.Add(plan.Version);
            CheckpointPlans.Add(plan);
            var location = $"jobs/{plan.JobId}/checkpoints/{plan.Version:D9}";
            if (plan.Best is not null)
            {
                _best = (plan.Version, location);
            }

            return Task.FromResult(new CheckpointResult(plan.Version, plan.Version, location, 1000, 0, null, 0.01) { BestStep = _best?.Step, BestLocation = _best?.Location });
        }

        /// <summary>The section a worker scores at a step (default: pixel error 0.1 at threshold 0.5, every step alike).</summary>
        public Func<long, int, SectionValidation>? Scores { get; init; }

        public List<ValidationPlan> ValidationPlans { get; } = [];

        public List<CheckpointPlan> CheckpointPlans { get; } = [];

        public TimeSpan ValidationDelay { get; init; }

        public async Task<ValidationReport> ValidateAsync(string worker, ValidationPlan plan, CancellationToken abandon)
        {
            ValidationPlans.Add(plan);
            await Task.Delay(ValidationDelay, CancellationToken.None);   // the scripted worker validates on, as a real one does
            var section = Scores?.Invoke(plan.Version, plan.WorkerIndex) ?? Section([0.5], pixelError: [0.1], randError: [0.2]);
            return new ValidationReport(worker, plan.Version, [section], 0.01);
        }

        public void Validated(JobStatus status, ValidationResult validation)
        {
        }

        public Task ReleaseWorkerAsync(string worker, string jobId)
        {
            ReleasedWorkers.Add(worker);
            return Task.CompletedTask;
        }

        public Task ReleaseReducerAsync(string reducer)
        {
            ReleasedReducers.Add(reducer);
            return Task.CompletedTask;
        }

        public IDisposable? StartStep(long stepIndex) => null;

        public void StepCommitted(JobStatus status, IReadOnlyList<StepReport> reports)
        {
            Committed.Add(status.Step - 1);
            OnCommitted?.Invoke(status.Step - 1);
            if (JoinAfter == status.Step - 1)
            {
                _dead.Remove(Joined);
            }
        }

        public void StepRecomputed()
        {
        }

        public void CheckpointWritten(long stepIndex, string location, long bytes, TimeSpan stall)
        {
        }
    }
}
