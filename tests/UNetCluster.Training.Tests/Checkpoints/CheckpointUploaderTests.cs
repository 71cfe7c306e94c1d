using System.Collections.Concurrent;
using UNetCluster.Data.Storage;
using UNetCluster.Model;
using UNetCluster.Model.Checkpoints;
using UNetCluster.Model.Modules;
using UNetCluster.Model.Tests;
using UNetCluster.Model.Training;
using UNetCluster.Tests.Common;
using UNetCluster.Training.Checkpoints;
using UNetCluster.Training.Local;

namespace UNetCluster.Training.Tests.Checkpoints;

/// <summary>Background checkpoint upload: one in flight, the newest waiting one wins, storage outages ride through.</summary>
[Trait("Category", "Blob")]
public sealed class CheckpointUploaderTests(AzuriteFixture azurite)
{
    private static readonly UNetOptions Small = new(Depth: 2, BaseChannels: 16);

    [Fact]
    public async Task Enqueue_WhileAnUploadIsInFlight_QueuesAndANewerRequestReplacesTheWaitingOne()
    {
        var ct = TestContext.Current.CancellationToken;
        var gate = new GatedStore(new FileBlobStore(TestSupport.TemporaryDirectory()));
        var store = CheckpointStore.ForJob(gate, "job-queue");
        await using var uploader = new CheckpointUploader(store);
        var events = new ConcurrentQueue<CheckpointUploadEventArgs>();
        uploader.Changed += (_, e) => events.Enqueue(e);
        using var model = new UNet(Small);
        using var optimizer = CheckpointStoreBlobTests.NewOptimizer(model);

        Assert.Equal(CheckpointEnqueueResult.Started, uploader.Enqueue(CheckpointSnapshot.Capture(1, model, optimizer, 1, null, null)));
        await gate.FirstWriteStarted.WaitAsync(ct); // step 1 is in flight and held there
        Assert.Equal(CheckpointEnqueueResult.Queued, uploader.Enqueue(CheckpointSnapshot.Capture(2, model, optimizer, 1, null, null)));
        Assert.Equal(CheckpointEnqueueResult.ReplacedPending, uploader.Enqueue(CheckpointSnapshot.Capture(3, model, optimizer, 1, null, null)));
        gate.Release();
        await uploader.FlushAsync(ct);

        Assert.Equal(
            new[] { (CheckpointUploadEventKind.Superseded, 2L), (CheckpointUploadEventKind.Uploaded, 1L), (CheckpointUploadEventKind.Uploaded, 3L) },
            events.Select(e => (e.Kind, e.Step)));
        Assert.Equal(3, events.First().SupersededBy);
        Assert.Equal(3, await store.ReadLatestStepAsync(ct));
        Assert.Equal(new long[] { 1, 3 }, await store.ListStepsAsync(ct));
        Assert.False(uploader.IsBusy);
    }

    [Fact]
    public async Task LocalTrainerWithUploader_AzuriteDownFor30Seconds_TrainingGoesOnAndTheNextCheckpointBecomesLatest()
    {
        var ct = TestContext.Current.CancellationToken;
        var store = CheckpointStore.ForJob(azurite.CreateStore(maxRetries: 0), "job-outage", new CheckpointRetention(KeepLast: 1_000_000));
        await using var uploader = new CheckpointUploader(store, new CheckpointUploadOptions(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(2)));
        var events = new ConcurrentQueue<CheckpointUploadEventArgs>();
        var firstUpload = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        uploader.Changed += (_, e) =>
        {
            events.Enqueue(e);
            if (e.Kind == CheckpointUploadEventKind.Uploaded)
            {
                firstUpload.TrySetResult();
            }
        };
        var options = Presets.Get("tiny") with { Steps = 1_000_000, CheckpointEvery = 5 };
        using var data = TrainingData.Create(TestSupport.BundledSections, options.ValidationSections, options.WeightMap);
        using var trainer = new LocalTrainer(options, data, store, uploader);
        using var stop = new CancellationTokenSource();
        long lastStep = 0;
        var stepsAfterRestart = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        long restartStep = long.MaxValue;
        var progress = new Recorder(p =>
        {
            Volatile.Write(ref lastStep, p.Step);
            if (p.Step >= Volatile.Read(ref restartStep) + 10)
            {
                stepsAfterRestart.TrySetResult();
            }
        });

        var training = Task.Factory.StartNew(() => trainer.Run(progress, stop.Token), ct, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        await firstUpload.Task.WaitAsync(TimeSpan.FromMinutes(2), ct);
        await azurite.StopAsync();
        var stepAtStop = Volatile.Read(ref lastStep);
        await Task.Delay(TimeSpan.FromSeconds(30), ct); // the outage itself
        var stepBeforeRestart = Volatile.Read(ref lastStep);
        var failedDuringOutage = uploader.FailedAttempts;
        var supersededDuringOutage = uploader.Superseded;
        await azurite.StartAsync();
        Volatile.Write(ref restartStep, Volatile.Read(ref lastStep));
        await stepsAfterRestart.Task.WaitAsync(TimeSpan.FromMinutes(2), ct);
        await stop.CancelAsync();
        TrainingOutcome outcome;
        try
        {
            outcome = await training.WaitAsync(TimeSpan.FromMinutes(2), ct);
        }
        catch (TimeoutException)
        {
            Assert.Fail("Training did not finish within 2 minutes of Azurite's restart. Events: " +
                string.Join("; ", events.Select(x => $"{x.Kind} {x.Step} attempt {x.Attempt} {x.Error?.GetType().Name}")));
            throw;
        }

        TestContext.Current.TestOutputHelper?.WriteLine(
            $"outage: steps {stepAtStop} -> {stepBeforeRestart} during 30 s, {failedDuringOutage} failed attempts, {supersededDuringOutage} superseded; " +
            $"final step {outcome.Step}");
        Assert.True(stepBeforeRestart - stepAtStop >= 10, $"training went from step {stepAtStop} to {stepBeforeRestart} during the 30 s outage");
        Assert.True(failedDuringOutage >= 2, $"{failedDuringOutage} failed upload attempts during the outage");
        Assert.True(supersededDuringOutage >= 1, "no checkpoint request was superseded during the outage: it did not get several");
        Assert.DoesNotContain(events, e => e.Kind == CheckpointUploadEventKind.Abandoned);
        // Every request is accounted for: written, or replaced by a newer one and reported so.
        var requested = events.Where(e => e.Kind is CheckpointUploadEventKind.Uploaded or CheckpointUploadEventKind.Superseded).Select(e => e.Step).Order().ToList();
        Assert.Equal(requested.Distinct(), requested);
        Assert.Equal(outcome.Step, requested[^1]);
        Assert.Equal(outcome.Step, await store.ReadLatestStepAsync(ct));
        using var loaded = await store.LoadLatestAsync(cancellationToken: ct);
        Assert.Equal(outcome.Step, loaded!.Manifest.Step);
        using var restored = CheckpointStore.CreateModel(loaded);
        using var restoredWeights = CheckpointStoreBlobTests.Flat(restored);
        using var trainedWeights = CheckpointStoreBlobTests.Flat(trainer.Model);
        Assert.True(restoredWeights.Equals(trainedWeights));
        var first = events.First(e => e.Kind == CheckpointUploadEventKind.Uploaded).Step;
        using var beforeOutage = await store.LoadAsync(first, ct); // written before Azurite's restart: its --location kept it
        Assert.Equal(first, beforeOutage.Manifest.Step);
    }

    private sealed class Recorder(Action<TrainingProgress> onReport) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => onReport(value);
    }

    /// <summary>Holds the first write until released, so a test can act while an upload is in flight.</summary>
    private sealed class GatedStore(IBlobStore inner) : IBlobStore
    {
        private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task FirstWriteStarted => _started.Task;

        public void Release() => _released.TrySetResult();

        public string Describe(string name) => inner.Describe(name);

        public Task<BlobContent?> ReadAsync(string name, CancellationToken cancellationToken = default) => inner.ReadAsync(name, cancellationToken);

        public Task<IReadOnlyList<BlobItem>> ListAsync(string prefix, CancellationToken cancellationToken = default) => inner.ListAsync(prefix, cancellationToken);

        public Task<bool> DeleteAsync(string name, CancellationToken cancellationToken = default) => inner.DeleteAsync(name, cancellationToken);

        public async Task<string> WriteAsync(string name, ReadOnlyMemory<byte> content, BlobCondition condition, CancellationToken cancellationToken = default)
        {
            _started.TrySetResult();
            await _released.Task.WaitAsync(cancellationToken);
            return await inner.WriteAsync(name, content, condition, cancellationToken);
        }
    }
}
