using System.Collections.Concurrent;
using System.Diagnostics;
using UNetCluster.Data.Storage;
using UNetCluster.Model.Checkpoints;
using UNetCluster.Model.Modules;
using UNetCluster.Model.Optimization;
using static TorchSharp.torch;

namespace UNetCluster.Model.Tests.Storage;

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
    public async Task CheckpointUploader_AzuriteDownFor30Seconds_TrainingGoesOnAndTheNextCheckpointBecomesLatest()
    {
        var ct = TestContext.Current.CancellationToken;
        var store = CheckpointStore.ForJob(azurite.CreateStore(maxRetries: 0), "job-outage");
        await using var uploader = new CheckpointUploader(store, new CheckpointUploadOptions(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(2)));
        var events = new ConcurrentQueue<CheckpointUploadEventArgs>();
        uploader.Changed += (_, e) => events.Enqueue(e);
        using var model = new UNet(Small);
        using var optimizer = CheckpointStoreBlobTests.NewOptimizer(model);
        manual_seed(3);
        using var input = randn(1, 1, 124, 124);
        var enqueued = new List<long>();
        long step = 0;
        var slowestEnqueue = TimeSpan.Zero;

        void Checkpoint()
        {
            var snapshot = CheckpointSnapshot.Capture(step, model, optimizer, 1, null, null);
            var watch = Stopwatch.StartNew();
            uploader.Enqueue(snapshot);
            slowestEnqueue = watch.Elapsed > slowestEnqueue ? watch.Elapsed : slowestEnqueue;
            enqueued.Add(step);
        }

        TrainStep(model, optimizer, input);
        step++;
        Checkpoint();
        await uploader.FlushAsync(ct).WaitAsync(TimeSpan.FromSeconds(60), ct);
        Assert.Equal(1, await store.ReadLatestStepAsync(ct));

        await azurite.StopAsync();
        var outage = Stopwatch.StartNew();
        var stepsWhileUploadsFailed = 0;
        while (outage.Elapsed < TimeSpan.FromSeconds(30))
        {
            TrainStep(model, optimizer, input);
            step++;
            if (uploader.FailedAttempts > 0 && uploader.IsBusy)
            {
                stepsWhileUploadsFailed++;
            }

            if (step % 10 == 0)
            {
                Checkpoint();
            }
        }

        var requestsDuringOutage = enqueued.Count - 1;
        await azurite.StartAsync();
        TrainStep(model, optimizer, input);
        step++;
        Checkpoint();
        using var expected = CheckpointStoreBlobTests.Flat(model);
        try
        {
            await uploader.FlushAsync(ct).WaitAsync(TimeSpan.FromMinutes(2), ct);
        }
        catch (TimeoutException e)
        {
            Assert.Fail($"The last checkpoint was not written within 2 minutes of Azurite's restart ({e.Message}). Events: " +
                string.Join("; ", events.Select(x => $"{x.Kind} {x.Step} attempt {x.Attempt} {x.Error?.GetType().Name} {x.Error?.Message}")));
        }

        TestContext.Current.TestOutputHelper?.WriteLine(
            $"outage: {stepsWhileUploadsFailed} steps while uploads failed, {requestsDuringOutage} checkpoint requests, {uploader.FailedAttempts} failed attempts, " +
            $"{uploader.Superseded} superseded, slowest Enqueue {slowestEnqueue.TotalMilliseconds:F3} ms");
        Assert.True(requestsDuringOutage >= 2, $"only {requestsDuringOutage} checkpoint requests during the outage; the test needs several");
        Assert.True(stepsWhileUploadsFailed >= 10, $"only {stepsWhileUploadsFailed} training steps ran while uploads were failing");
        Assert.True(slowestEnqueue < TimeSpan.FromSeconds(1), $"Enqueue blocked the training loop for {slowestEnqueue}");
        Assert.Contains(events, e => e.Kind == CheckpointUploadEventKind.AttemptFailed);
        Assert.DoesNotContain(events, e => e.Kind == CheckpointUploadEventKind.Abandoned);
        // Every request is accounted for: written, or replaced by a newer one and reported so.
        Assert.Equal(enqueued, events.Where(e => e.Kind is CheckpointUploadEventKind.Uploaded or CheckpointUploadEventKind.Superseded)
            .Select(e => e.Step).Order());
        Assert.Equal(step, await store.ReadLatestStepAsync(ct));
        using var loaded = await store.LoadLatestAsync(cancellationToken: ct);
        Assert.Equal(step, loaded!.Manifest.Step);
        using var restored = CheckpointStore.CreateModel(loaded);
        using var restoredWeights = CheckpointStoreBlobTests.Flat(restored);
        Assert.True(restoredWeights.Equals(expected));
        using var beforeOutage = await store.LoadAsync(1, ct); // written before Azurite's restart: its --location kept it
        Assert.Equal(1, beforeOutage.Manifest.Step);
    }

    /// <summary>One step of training-like work: forward, a loss, backward, an optimizer step on the flat parameters.</summary>
    private static void TrainStep(UNet model, FlatOptimizer optimizer, Tensor input)
    {
        using var scope = NewDisposeScope();
        var parameters = model.parameters().ToList();
        model.zero_grad();
        var loss = model.call(input).square().mean();
        loss.backward();
        var flat = ParameterVector.Flatten(parameters);
        var gradient = zeros_like(flat);
        ParameterVector.CopyGradients(parameters, gradient);
        optimizer.Step(flat, gradient);
        ParameterVector.Assign(parameters, flat);
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
