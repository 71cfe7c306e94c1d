using System.Text.Json;
using UNetCluster.Contracts.Jobs;
using UNetCluster.Model.Checkpoints;
using UNetCluster.Training.Checkpoints;

namespace UNetCluster.EndToEnd.Tests;

/// <summary>
/// The cluster as users run it: Redis membership, three silo processes, jobs submitted and followed with the <c>unet</c>
/// CLI; then one worker silo killed with SIGKILL in the middle of a job, which still completes with every step applied
/// exactly once.
/// </summary>
[Collection(RedisClusterTests.Name)]
[Trait("Category", "Cluster")]
public sealed class ClusterJobTests(RedisClusterFixture cluster)
{
    private readonly List<(string Job, DateTimeOffset At, long Step)> seen = [];   // every status read: when, and the step it showed

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } };

    [Fact]
    public async Task Submit_ThroughTheCli_Bf16JobCompletesOnThreeSiloProcesses()
    {
        var (code, output, error) = await cluster.UnetAsync(
            "submit", "--preset", "tiny", "--steps", "6", "--batch", "3", "--workers", "3", "--reducers", "3", "--bucket-kib", "256", "--precision", "bf16", "--id", "e2e-complete", "--watch");
        Assert.True(code == 0, $"exit {code}\n{output}\n{error}\n{cluster.Diagnostics()}");
        Assert.Contains("e2e-complete", output, StringComparison.Ordinal);

        var status = await StatusAsync("e2e-complete");
        Assert.Equal(JobState.Completed, status.State);
        Assert.Equal(6, status.Step);
        Assert.Equal(3, status.Workers.Count);
        Assert.Equal(3, status.Workers.Select(w => w.Split('@')[1]).Distinct().Count());

        // Each silo process computed in bf16 on its CPU and reported the memory it had in use, and the status says so.
        Assert.Equal("bf16", status.Spec.Precision);
        Assert.Equal(["cpu bf16", "cpu bf16", "cpu bf16"], status.WorkerCompute);
        Assert.Equal(3, status.WorkerMemoryBytes.Count);
        Assert.All(status.WorkerMemoryBytes, bytes => Assert.InRange(bytes, 64L << 20, 1L << 40));   // a silo process's RSS
        Assert.Matches(@"computing in: cpu bf16 \([0-9.]+ (MiB|GiB) RSS\), cpu bf16 \(", output);
        Assert.Equal(6, status.Validation!.Step);                      // the workers validated the last step
        Assert.Equal("pixel-error", status.BestValidation!.Metric);
        Assert.NotNull(status.BestCheckpoint);

        var list = await cluster.UnetAsync("list");
        Assert.Contains("e2e-complete", list.Output, StringComparison.Ordinal);
        Assert.Contains("completed", list.Output, StringComparison.Ordinal);

        // The finished job's report and history beside its record in blob storage, and 'unet report' writes the same
        // locally: a point per step on the loss curve, the last validation on the validation curve.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (await cluster.Blobs.ReadAsync("jobs/e2e-complete/report.html", TestContext.Current.CancellationToken) is null && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200, TestContext.Current.CancellationToken);   // written right after the job's final status
        }

        var stored = await cluster.Blobs.ReadAsync("jobs/e2e-complete/report.html", TestContext.Current.CancellationToken);
        Assert.True(stored is not null, $"no jobs/e2e-complete/report.html\n{cluster.Diagnostics()}");
        Assert.Equal(6, LossPoints(System.Text.Encoding.UTF8.GetString(stored.Content)));
        Assert.NotNull(await cluster.Blobs.ReadAsync("jobs/e2e-complete/history.csv", TestContext.Current.CancellationToken));
        var folder = Path.Combine(Path.GetTempPath(), "unetcluster-tests", "e2e-report-" + Guid.NewGuid().ToString("N"));
        var report = await cluster.UnetAsync("report", "e2e-complete", "--out", folder);
        Assert.True(report.ExitCode == 0, $"{report.Output}\n{report.Error}");
        Assert.Contains(Path.Combine(folder, "report.html"), report.Output, StringComparison.Ordinal);
        Assert.Equal(6, LossPoints(File.ReadAllText(Path.Combine(folder, "report.html"), System.Text.Encoding.UTF8)));
        Assert.Equal(7, File.ReadAllLines(Path.Combine(folder, "history.csv")).Length);   // the header and a row per step
    }

    /// <summary>The points of a report's loss curve.</summary>
    private static int LossPoints(string html) =>
        System.Text.RegularExpressions.Regex.Count(
            System.Text.RegularExpressions.Regex.Match(html, "<g class=\"points raw\" data-series=\"loss\">(.*?)</g>").Groups[1].Value, "<circle ");

    [Fact]
    public async Task Submit_JobWhoseStepCannotFitANodesMemory_FailsWithItsReasonAndEverySiloLives()
    {
        // A valid spec whose step would need terabytes per worker: it must fail before any step, not take silos down.
        var (code, output, error) = await cluster.UnetAsync(
            "submit", "--preset", "tiny", "--base-channels", "1024", "--tile", "540", "--batch", "256", "--steps", "2", "--workers", "3", "--id", "e2e-oversized");
        Assert.True(code == 0, $"exit {code}\n{output}\n{error}");

        var status = await WaitForAsync("e2e-oversized", s => s.IsFinished, TimeSpan.FromMinutes(2));

        Assert.Equal(JobState.Failed, status.State);
        Assert.Contains("A training step needs about", status.Error, StringComparison.Ordinal);
        Assert.Equal(0, status.Step);
        Assert.All(cluster.Silos, silo => Assert.False(silo.Process.HasExited, $"{silo.Name} exited\n{cluster.Diagnostics()}"));
    }

    [Fact]
    public async Task Submit_InvalidSpec_IsRefusedByTheClusterAndLeavesNoTrace()
    {
        var (code, output, error) = await cluster.UnetAsync("submit", "--data", "nowhere", "--preset", "tiny", "--workers", "0", "--id", "e2e-refused");
        Assert.Equal(2, code);
        Assert.Contains("data set 'nowhere' is unknown", error, StringComparison.Ordinal);
        Assert.Contains("workers 0 is invalid", error, StringComparison.Ordinal);
        var status = await cluster.UnetAsync("status", "e2e-refused");
        Assert.Equal(2, status.ExitCode);
        Assert.Contains("job 'e2e-refused' is unknown", status.Error, StringComparison.Ordinal);
        Assert.Empty(await cluster.Blobs.ListAsync("jobs/e2e-refused/", TestContext.Current.CancellationToken));
        Assert.Empty(output.Trim());
    }

    [Fact]
    [Trait("Category", "Blob")]
    public async Task KillReducerSilo_ThenJoin_ThenKillCoordinatorSilo_JobLosesNoStepAndEndsBitIdenticalToAFaultFreeRun()
    {
        // One tile a step, computed by the first live worker: whichever silo computes it, a step's gradient is the same
        // bits, so the faulted job must end exactly where a fault-free one does. Every silo hosts a reducer and the copy
        // of another's; checkpoints are rarer than the job, so no fault can be hidden by going back to one.
        const int steps = 1000;
        string[] job = ["submit", "--preset", "tiny", "--steps", steps.ToString(System.Globalization.CultureInfo.InvariantCulture), "--batch", "1",
            "--workers", "3", "--reducers", "3", "--checkpoint-every", "1000", "--validate-every", "1000"];
        var submitted = await cluster.UnetAsync([.. job, "--id", "e2e-kill"]);
        Assert.True(submitted.ExitCode == 0, submitted.Error + cluster.Diagnostics());
        try
        {
            await KillReducerThenCoordinatorAsync(steps, job);
        }
        finally
        {
            await cluster.UnetAsync("cancel", "e2e-kill");   // a no-op once it completed; else it stops loading the silos
        }
    }

    private async Task KillReducerThenCoordinatorAsync(int steps, string[] job)
    {
        var running = await WaitForAsync("e2e-kill", s => s.Step >= 6 && s.ReducerCopies.Count == 3 && s.ReducerCopies.All(c => c.Length > 0), TimeSpan.FromMinutes(3));

        // 1. kill -9 a silo that hosts a reducer (and a copy) but not the coordinator.
        var first = cluster.Silos.First(s => !s.Process.HasExited && !On(running.Coordinator!, s) && running.Reducers.Any(r => On(r, s)));
        var slot = cluster.Silos.ToList().IndexOf(first);
        var (firstAt, firstClock) = (running.Step, System.Diagnostics.Stopwatch.StartNew());
        first.KillHard();
        JobStatus afterFirst;
        try
        {
            // Recovered: the copy took the lost reducer's place, and every shard has a copy again, none on the dead silo
            // (the job steps on meanwhile: the status read before the kill is already a few steps old).
            afterFirst = await WaitForAsync("e2e-kill", s => s.IsFinished || (s.ReducersRecovered >= 1 && s.Step > firstAt
                && s.ReducerCopies.Count == 3 && s.ReducerCopies.All(c => c.Length > 0) && !s.Reducers.Concat(s.ReducerCopies).Any(r => On(r, first))),
                TimeSpan.FromMinutes(3));
        }
        finally
        {
            await cluster.ReplaceAsync(first);
        }

        var firstSeconds = firstClock.Elapsed.TotalSeconds;
        Assert.True(afterFirst.Restores == 0, $"went back to a checkpoint: {afterFirst}\n{cluster.Diagnostics()}");
        Assert.False(afterFirst.IsFinished, $"the job ended before the silo's loss was dealt with: {afterFirst}");
        Assert.False(afterFirst.Reducers.Concat(afterFirst.ReducerCopies).Any(r => On(r, first)),
            $"a reducer or copy is still on the dead silo: {string.Join(", ", afterFirst.Reducers)} / {string.Join(", ", afterFirst.ReducerCopies)}, {afterFirst}");

        // 2. The silo that joins takes a reducer or a copy over at a step boundary.
        var joined = cluster.Silos[slot];
        var joinedAt = (await StatusAsync("e2e-kill")).Step;
        var spread = await WaitForAsync("e2e-kill", s => s.Reducers.Concat(s.ReducerCopies).Any(r => On(r, joined)) || s.IsFinished, TimeSpan.FromMinutes(2));
        Assert.False(spread.IsFinished, $"the new silo (port {joined.Port}, active at step {joinedAt}) took nothing over before the end: {spread}\n{cluster.Diagnostics()}");
        TestContext.Current.SendDiagnosticMessage($"the new silo was active at step {joinedAt} and held a role at step {spread.Step}");

        // 3. kill -9 the coordinator's silo: a coordinator elsewhere adopts the reducers and their copies.
        var second = cluster.Silos.Single(s => !s.Process.HasExited && On(spread.Coordinator!, s));
        var (secondAt, secondClock) = (spread.Step, System.Diagnostics.Stopwatch.StartNew());
        var secondKilledAt = DateTimeOffset.UtcNow;
        second.KillHard();   // the job's history grain lives there too (placed with the coordinator, its first caller)
        JobStatus afterSecond;
        try
        {
            afterSecond = await WaitForAsync("e2e-kill", s => s.Takeovers >= 1 && s.Step > secondAt + 1 || s.IsFinished, TimeSpan.FromMinutes(3));
        }
        finally
        {
            await cluster.ReplaceAsync(second);   // the other tests expect three silos
        }

        var secondSeconds = secondClock.Elapsed.TotalSeconds;
        var final = await WaitForAsync("e2e-kill", s => s.IsFinished, TimeSpan.FromMinutes(5));
        Assert.True(final.State == JobState.Completed, $"{final}\n{cluster.Diagnostics()}");
        Assert.True(final.Step == steps, $"ended at step {final.Step}, not {steps}: {final}");
        Assert.True((final.Restores, final.Takeovers) == (0, 1), $"{final.Restores} restores and {final.Takeovers} takeovers, not 0 and 1: {final}\n{cluster.Diagnostics()}");
        Assert.True(final.RecomputedSteps <= 2, $"{final.RecomputedSteps} recomputed attempts for two faults: {final.LastRecompute}");

        // The job's history was read back from storage by the history grain's next activation: the curve starts at step
        // 1 and ends at the last step; the only steps missing are those committed in the last second or so before the
        // coordinator's silo (and the history grain with it) was killed, which were not written yet: any step a status
        // showed committed 4 s before the kill is kept (the commit time of the last kept step is no bound: a step may
        // take seconds, as the first one a joined silo's worker computes).
        var history = await HistoryStepsAsync("e2e-kill");
        var missing = Enumerable.Range(1, steps).Select(s => (long)s).Except(history.Select(p => p.Step)).ToList();
        Assert.Equal(1, history[0].Step);
        Assert.Equal(steps, history[^1].Step);
        Assert.Equal(history.Select(p => p.Step).Order(), history.Select(p => p.Step));
        if (missing.Count > 0)
        {
            Assert.True(missing[^1] - missing[0] + 1 == missing.Count, $"steps missing from the history in more than one run: {string.Join(", ", missing)}");
            var committedBefore = StepSeenBy("e2e-kill", secondKilledAt - TimeSpan.FromSeconds(4));
            Assert.True(missing[0] > committedBefore,
                $"steps {missing[0]}-{missing[^1]} were lost from the history, though a status showed step {committedBefore} committed 4 s or more before the silo was killed at {secondKilledAt:O}");
        }

        // The same job without faults ends on the same bits: the final checkpoint's model and optimizer files hash alike.
        var reference = await cluster.UnetAsync([.. job, "--id", "e2e-kill-ref", "--watch"]);
        Assert.True(reference.ExitCode == 0, reference.Error + cluster.Diagnostics());
        using var faulted = CheckpointStore.ForJob(cluster.Blobs, "e2e-kill").LoadLatest();
        using var clean = CheckpointStore.ForJob(cluster.Blobs, "e2e-kill-ref").LoadLatest();
        Assert.NotNull(faulted);
        Assert.NotNull(clean);
        Assert.Equal(steps, faulted.Manifest.Step);
        Assert.Equal(steps, faulted.OptimizerState["step"].item<long>());
        Assert.Equal(clean.Manifest.Files, faulted.Manifest.Files);
        TestContext.Current.SendDiagnosticMessage(
            $"killed {first.Name} at step {firstAt}: step {afterFirst.Step} seen {firstSeconds:F1} s later; killed the coordinator's silo at step {secondAt}: " +
            $"step {afterSecond.Step} seen {secondSeconds:F1} s later on {afterSecond.Coordinator}; {final.RecomputedSteps} recomputed attempts, " +
            $"{final.ReducersRecovered} reducers taken over or adopted, 0 restores; final sha256s equal a fault-free run's; " +
            $"history read back with {history.Count} of {steps} steps ({missing.Count} lost at the coordinator's kill)");
    }

    /// <summary>A job's history steps (step, commit time) as a live silo's REST API serves them.</summary>
    private async Task<List<(long Step, DateTimeOffset At)>> HistoryStepsAsync(string jobId)
    {
        using var http = new HttpClient();
        var silo = cluster.Silos.First(s => !s.Process.HasExited);
        using var body = JsonDocument.Parse(await http.GetStringAsync(new Uri($"{cluster.HttpUrlOf(silo)}/api/jobs/{jobId}/history"), TestContext.Current.CancellationToken));
        return [.. body.RootElement.GetProperty("steps").EnumerateArray().Select(p => (p.GetProperty("step").GetInt64(), p.GetProperty("at").GetDateTimeOffset()))];
    }

    /// <summary>Whether a grain key (or a coordinator's name) is on silo process <paramref name="silo"/>.</summary>
    private static bool On(string key, ChildProcess silo) => key.Contains($":{silo.Port}@", StringComparison.Ordinal);

    [Fact]
    [Trait("Category", "Blob")]
    public async Task StorageStopped30Seconds_MidJob_TrainingGoesOnAndCheckpointsResumeAfter()
    {
        const int steps = 1000;
        var submitted = await cluster.UnetAsync(
            "submit", "--preset", "tiny", "--steps", steps.ToString(System.Globalization.CultureInfo.InvariantCulture), "--batch", "3",
            "--workers", "3", "--reducers", "3", "--checkpoint-every", "5", "--validate-every", "1000", "--id", "e2e-storage");
        Assert.True(submitted.ExitCode == 0, submitted.Error + cluster.Diagnostics());

        var before = await WaitForAsync("e2e-storage", s => s.Step >= 6 && s.CheckpointStep >= 5, TimeSpan.FromMinutes(3));
        await cluster.StopStorageAsync();
        JobStatus during;
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
            during = await StatusAsync("e2e-storage");
        }
        finally
        {
            await cluster.StartStorageAsync();
        }

        // Training went on while its record and checkpoints could not be written.
        Assert.True(during.State == JobState.Running || during.IsFinished, $"{during}\n{cluster.Diagnostics()}");
        Assert.True(during.Step >= before.Step + 10, $"the job stood still without storage: step {before.Step} before, {during.Step} 30 s later\n{cluster.Diagnostics()}");

        var final = await WaitForAsync("e2e-storage", s => s.IsFinished, TimeSpan.FromMinutes(6));
        Assert.True(final.State == JobState.Completed, $"{final}\n{cluster.Diagnostics()}");
        Assert.Equal(steps, final.Step);
        Assert.Equal((0, 0), (final.Restores, final.Takeovers));
        Assert.Equal(steps, final.CheckpointStep);                                  // checkpoints resumed after the outage
        using var checkpoint = CheckpointStore.ForJob(cluster.Blobs, "e2e-storage").LoadLatest();
        Assert.NotNull(checkpoint);
        Assert.Equal(steps, checkpoint.Manifest.Step);
        TestContext.Current.SendDiagnosticMessage(
            $"storage stopped at step {before.Step} (checkpoint {before.CheckpointStep}) for 30 s: step {during.Step} at its end (checkpoint {during.CheckpointStep}); final checkpoint {final.CheckpointStep}");
    }

    [Fact]
    [Trait("Category", "Blob")]
    public async Task UploadedDataSet_NamedByAJob_EachWorkerFetchesOnlyTheItemsOfItsTiles_DamagedItemsAreCaught()
    {
        var (images, masks) = CopyBundledPairs(8);
        var upload = await RedisClusterFixture.UnetPlainAsync("dataset", "upload", "e2e-cells", "--images", images, "--masks", masks,
            "--blob", cluster.BlobConnection, "--container", RedisClusterFixture.Container);
        Assert.True(upload.ExitCode == 0, upload.Output + upload.Error);

        const int steps = 4, batch = 3;
        var (code, output, error) = await cluster.UnetAsync("submit", "--data", "e2e-cells", "--preset", "tiny", "--steps", $"{steps}", "--batch", $"{batch}",
            "--workers", "3", "--id", "e2e-dataset", "--watch");
        Assert.True(code == 0, $"exit {code}\n{output}\n{error}\n{cluster.Diagnostics()}");
        var status = await StatusAsync("e2e-dataset");
        Assert.Equal(JobState.Completed, status.State);
        Assert.Equal(steps, status.Step);
        Assert.Equal(3, status.Workers.Count);

        // The items the job's tiles are drawn from (the same draw the workers make) and the validation items, and what each
        // silo fetched: together exactly those items, and no silo all of the training items (each computes a third of the tiles).
        var options = UNetCluster.Training.Jobs.JobOptions.Build(new JobSpec { DataSet = "e2e-cells", Preset = "tiny", Steps = steps, BatchSize = batch });
        var held = UNetCluster.Model.Training.TrainingData.ValidationIndexes(8, options.ValidationSections);
        var training = Enumerable.Range(0, 8).Where(i => !held.Contains(i)).ToArray();
        var needed = (from step in Enumerable.Range(0, steps)
                      from tile in Enumerable.Range(0, batch)
                      select $"slice-{training[UNetCluster.Model.Training.GradientEngine.SectionOf(options.Seed, step, tile, training.Length)]:D2}.png")
                     .ToHashSet(StringComparer.Ordinal);
        needed.UnionWith(held.Select(i => $"slice-{i:D2}.png"));   // the validation of the last step, shared out over the workers
        var fetched = Enumerable.Range(0, cluster.Silos.Count).Select(i => CachedImages(cluster.CacheOf(i), "e2e-cells")).ToList();
        Assert.Equal(needed.Order(StringComparer.Ordinal), fetched.SelectMany(f => f).Distinct().Order(StringComparer.Ordinal));
        Assert.All(fetched, f => Assert.True(f.Count < training.Length, $"a silo fetched {f.Count} of {training.Length} training items"));
        Assert.All(held, i => Assert.Single(fetched, f => f.Contains($"slice-{i:D2}.png")));   // each validation item by one worker only
        TestContext.Current.SendDiagnosticMessage(
            $"training items {training.Length}, needed {needed.Count}, fetched per silo {string.Join(", ", fetched.Select(f => f.Count))}");

        // A stored file whose size no longer matches its manifest is refused at submit, naming it; no job is created.
        var (badImages, badMasks) = CopyBundledPairs(8);
        upload = await RedisClusterFixture.UnetPlainAsync("dataset", "upload", "e2e-truncated", "--images", badImages, "--masks", badMasks,
            "--blob", cluster.BlobConnection, "--container", RedisClusterFixture.Container);
        Assert.True(upload.ExitCode == 0, upload.Output + upload.Error);
        var blobs = cluster.Blobs;
        var ct = TestContext.Current.CancellationToken;
        var truncated = (await blobs.ListAsync("datasets/e2e-truncated/items/", ct)).First(b => b.Name.Contains(".image", StringComparison.Ordinal));
        await blobs.WriteAsync(truncated.Name, (await blobs.ReadAsync(truncated.Name, ct))!.Content.AsMemory(0, 1000), UNetCluster.Data.Storage.BlobCondition.None, ct);

        var refused = await cluster.UnetAsync("submit", "--data", "e2e-truncated", "--preset", "tiny", "--steps", "2", "--id", "e2e-truncated-job");
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("corrupted", refused.Error, StringComparison.Ordinal);
        Assert.Contains(truncated.Name, refused.Error, StringComparison.Ordinal);
        Assert.Empty(await cluster.Blobs.ListAsync("jobs/e2e-truncated-job/", ct));

        // A stored file changed in place (same size) is caught by its sha256 where a worker fetches it: every item of this
        // set is damaged, so the first step fails on every attempt and the job fails, naming a damaged blob.
        (badImages, badMasks) = CopyBundledPairs(8);
        upload = await RedisClusterFixture.UnetPlainAsync("dataset", "upload", "e2e-flipped", "--images", badImages, "--masks", badMasks,
            "--blob", cluster.BlobConnection, "--container", RedisClusterFixture.Container);
        Assert.True(upload.ExitCode == 0, upload.Output + upload.Error);
        var victims = (await blobs.ListAsync("datasets/e2e-flipped/items/", ct)).Where(b => b.Name.Contains(".image", StringComparison.Ordinal)).ToList();
        foreach (var victim in victims)
        {
            var content = (await blobs.ReadAsync(victim.Name, ct))!.Content;
            content[^20] ^= 0xFF;
            await blobs.WriteAsync(victim.Name, content, UNetCluster.Data.Storage.BlobCondition.None, ct);
        }

        (code, output, error) = await cluster.UnetAsync("submit", "--data", "e2e-flipped", "--preset", "tiny", "--steps", "2", "--id", "e2e-flipped-job");
        Assert.True(code == 0, $"exit {code}\n{output}\n{error}");
        var failed = await WaitForAsync("e2e-flipped-job", s => s.State is JobState.Failed or JobState.Completed, TimeSpan.FromMinutes(3));
        Assert.Equal(JobState.Failed, failed.State);
        Assert.Contains("corrupted", failed.Error, StringComparison.Ordinal);
        Assert.Contains(victims, v => failed.Error!.Contains(v.Name, StringComparison.Ordinal));
        Assert.Equal(0, failed.Step);
    }

    [Fact]
    [Trait("Category", "Blob")]
    public async Task PredictionJob_OnAnUploadedDataSet_KillOfAWorkerMidJob_OutputsCompleteAndEqualAFaultFreeJobs_CancelStopsOne()
    {
        var ct = TestContext.Current.CancellationToken;
        var (images, masks) = CopyBundledPairs(3);
        var upload = await RedisClusterFixture.UnetPlainAsync("dataset", "upload", "e2e-predict", "--images", images, "--masks", masks,
            "--blob", cluster.BlobConnection, "--container", RedisClusterFixture.Container);
        Assert.True(upload.ExitCode == 0, upload.Output + upload.Error);
        var trained = await cluster.UnetAsync("submit", "--data", "e2e-predict", "--preset", "tiny", "--steps", "3", "--id", "e2e-predict-src", "--watch");
        Assert.True(trained.ExitCode == 0, trained.Output + trained.Error + cluster.Diagnostics());

        // One output tile a block: each 512 x 512 section is 49 blocks and an assembly, spread over the three workers.
        string[] predict = ["predict", "--cluster", "--from-job", "e2e-predict-src", "--dataset", "e2e-predict", "--block-size", "84",
            "--blob", cluster.BlobConnection, "--container", RedisClusterFixture.Container];
        var download = Path.Combine(Path.GetTempPath(), "unetcluster-tests", "download-" + Guid.NewGuid().ToString("N"));
        var reference = await cluster.UnetAsync([.. predict, "--id", "e2e-predict-ref", "--download", download]);
        Assert.True(reference.ExitCode == 0, reference.Output + reference.Error + cluster.Diagnostics());
        var clean = await StatusAsync("e2e-predict-ref");
        Assert.Equal((JobState.Completed, 3, 3 * (1 + 49 + 1)), (clean.State, clean.Prediction!.ImagesDone, clean.Prediction.Units));
        var files = await PredictionFilesAsync("e2e-predict-ref");
        Assert.Equal(3 * 3, files.Count);
        Assert.Equal(files.Keys.Append("manifest.json").Order(StringComparer.Ordinal), Directory.GetFiles(download).Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal));

        // kill -9 a worker that is not the coordinator's silo while units are in flight: its units go to the others.
        var submitted = await cluster.UnetAsync([.. predict, "--id", "e2e-predict-kill"]);
        Assert.True(submitted.ExitCode == 0, submitted.Output + submitted.Error);
        var running = await WaitForAsync("e2e-predict-kill", s => s.IsFinished || s.Prediction?.UnitsDone >= 20, TimeSpan.FromMinutes(2));
        Assert.False(running.IsFinished, $"the job ended before the kill: {running}");
        var victim = cluster.Silos.First(s => !s.Process.HasExited && !On(running.Coordinator!, s));
        victim.KillHard();
        JobStatus faulted;
        try
        {
            faulted = await WaitForAsync("e2e-predict-kill", s => s.IsFinished, TimeSpan.FromMinutes(4));
        }
        finally
        {
            await cluster.ReplaceAsync(victim);
        }

        Assert.True(faulted.State == JobState.Completed, $"{faulted}\n{cluster.Diagnostics()}");
        Assert.Equal(3, faulted.Prediction!.ImagesDone);
        Assert.Equal(files, await PredictionFilesAsync("e2e-predict-kill"));   // every file, with the fault-free bytes

        // A local folder, checked and uploaded by the CLI first; cancel stops the job with the units in flight, and no manifest is written.
        // Every bundled section (51 units each): the cancel must reach the job before its last unit does, and the status poll and
        // the cancel are two CLI processes (seconds), in which three workers finish a three-section job's 153 units.
        var (many, _) = CopyBundledPairs(int.MaxValue);
        var count = Directory.GetFiles(many).Length;
        submitted = await cluster.UnetAsync([.. predict.Where(a => a is not "--dataset" and not "e2e-predict"), "--input", many, "--id", "e2e-predict-cancel"]);
        Assert.True(submitted.ExitCode == 0, submitted.Output + submitted.Error);
        await WaitForAsync("e2e-predict-cancel", s => s.IsFinished || s.Prediction?.UnitsDone >= 10, TimeSpan.FromMinutes(2));
        var cancel = await cluster.UnetAsync("cancel", "e2e-predict-cancel");
        Assert.True(cancel.ExitCode == 0, cancel.Output + cancel.Error);
        var cancelled = await WaitForAsync("e2e-predict-cancel", s => s.IsFinished, TimeSpan.FromMinutes(2));
        Assert.Equal(JobState.Cancelled, cancelled.State);
        Assert.Null(await cluster.Blobs.ReadAsync("predictions/e2e-predict-cancel/manifest.json", ct));
        Assert.True(cancelled.Prediction!.ImagesDone < count, $"{cancelled}");
        Assert.Equal(count, (await cluster.Blobs.ListAsync("uploads/e2e-predict-cancel/", ct)).Count);
        Assert.Equal("uploads/e2e-predict-cancel/", cancelled.Spec.Prediction!.Prefix);
        TestContext.Current.SendDiagnosticMessage(
            $"fault-free: {clean.Prediction.ImagesPerSecond:F2} images/s; killed {victim.Name} at {running.Prediction!.UnitsDone} of {running.Prediction.Units} units: " +
            $"{faulted.Prediction.Reassigned} unit(s) handed to another worker; cancelled at {cancelled.Prediction.UnitsDone} units ({cancelled.Prediction.ImagesDone} of {count} images)");
    }

    /// <summary>A finished prediction job's files by name, with their sha256 as its manifest gives them (each checked against storage).</summary>
    private async Task<SortedDictionary<string, string>> PredictionFilesAsync(string jobId)
    {
        var ct = TestContext.Current.CancellationToken;
        var blobs = cluster.Blobs;
        var manifest = JsonDocument.Parse((await blobs.ReadAsync($"predictions/{jobId}/manifest.json", ct))!.Content);
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in manifest.RootElement.GetProperty("files").EnumerateArray())
        {
            var name = file.GetProperty("name").GetString()!;
            var bytes = (await blobs.ReadAsync($"predictions/{jobId}/{name}", ct))!.Content;
            Assert.Equal(file.GetProperty("sha256").GetString(), Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)));
            files[name] = file.GetProperty("sha256").GetString()!;
        }

        return files;
    }

    private static List<string> CachedImages(string cache, string dataSet)
    {
        var root = Path.Combine(cache, dataSet);
        return Directory.Exists(root)
            ? [.. Directory.EnumerateFiles(root, "*.png", SearchOption.AllDirectories)
                .Where(f => Path.GetFileName(Path.GetDirectoryName(f)) == "images")
                .Select(f => Path.GetFileName(f))]
            : [];
    }

    private static (string Images, string Masks) CopyBundledPairs(int count)
    {
        var root = Path.Combine(Path.GetTempPath(), "unetcluster-tests", "dataset-" + Guid.NewGuid().ToString("N"));
        var images = Directory.CreateDirectory(Path.Combine(root, "images")).FullName;
        var masks = Directory.CreateDirectory(Path.Combine(root, "masks")).FullName;
        foreach (var file in Directory.GetFiles(UNetCluster.Data.DataSets.BundledData.ImagesDirectory).Order(StringComparer.Ordinal).Take(count))
        {
            var name = Path.GetFileName(file);
            File.Copy(file, Path.Combine(images, name));
            File.Copy(Path.Combine(UNetCluster.Data.DataSets.BundledData.MasksDirectory, name), Path.Combine(masks, name));
        }

        return (images, masks);
    }

    private async Task<JobStatus> StatusAsync(string jobId)
    {
        var (code, output, error) = await cluster.UnetAsync("status", jobId, "--json");
        Assert.True(code == 0, $"exit {code}\n{output}\n{error}");
        var status = JsonSerializer.Deserialize<JobStatus>(output, Json)!;
        seen.Add((jobId, DateTimeOffset.UtcNow, status.Step));
        return status;
    }

    /// <summary>The highest step a status read no later than <paramref name="at"/> showed committed for <paramref name="jobId"/>; 0 if none.</summary>
    private long StepSeenBy(string jobId, DateTimeOffset at) =>
        seen.Where(o => o.Job == jobId && o.At <= at).Select(o => o.Step).DefaultIfEmpty(0).Max();

    private async Task<JobStatus> WaitForAsync(string jobId, Func<JobStatus, bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var status = await StatusAsync(jobId);
            if (condition(status))
            {
                return status;
            }

            Assert.True(DateTime.UtcNow < deadline, $"job {jobId} did not get there: {status}\n{cluster.Diagnostics()}");
            await Task.Delay(500, TestContext.Current.CancellationToken);
        }
    }
}
