using UNetCluster.Contracts.Jobs;
using UNetCluster.Data.Storage;
using UNetCluster.Tests.Common;
using UNetCluster.Training.Jobs;

namespace UNetCluster.Training.Tests.Jobs;

/// <summary>
/// <see cref="JobHistoryStore"/> on real Azurite and on a local folder: a job's history written behind beside its
/// record, read back by the next activation (as after its silo died), merged when two activations wrote.
/// </summary>
[Trait("Category", "Blob")]
public sealed class JobHistoryStoreTests(AzuriteFixture azurite)
{
    public static TheoryData<string> Backends => TestBlobStores.Backends;

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task OpenAsync_AfterFlush_ReadsBackEveryStepCheckpointAndValidation(string backend)
    {
        var ct = TestContext.Current.CancellationToken;
        var blobs = TestBlobStores.Create(azurite, backend);
        var first = await JobHistoryStore.OpenAsync(blobs, "job-a", cancellationToken: ct);
        for (var step = 1; step <= 10; step++)
        {
            first.Append(new JobHistoryEntry(Step: Point(step, step == 3 ? double.NaN : 1.0 / step)));
        }

        first.Append(new JobHistoryEntry(Checkpoint: new CheckpointPoint(10, DateTimeOffset.UnixEpoch, "jobs/job-a/checkpoints/000000010", 0.25, 4096)));
        first.Append(new JobHistoryEntry(Validation: new ValidationResult { Step = 10, Metric = "pixel-error", Value = 0.12, Threshold = 0.4, Sections = 3, Improved = true }));
        Assert.True(await first.FlushAsync(ct));
        Assert.Equal(0, first.Unwritten);

        var second = await JobHistoryStore.OpenAsync(blobs, "job-a", cancellationToken: ct);   // a new activation elsewhere

        var read = second.Get();
        var written = first.Get();
        Assert.Equal(written.Steps.Select(p => (p.Step, p.Loss, p.Workers.Count)), read.Steps.Select(p => (p.Step, p.Loss, p.Workers.Count)));
        Assert.True(double.IsNaN(read.Steps[2].Loss));
        Assert.Equal("w0", read.Steps[0].Workers[0].Worker);
        Assert.Equal(written.Checkpoints, read.Checkpoints);
        Assert.Equal(written.Validations, read.Validations);
        Assert.Equal(written.Revision, read.Revision);
        Assert.NotNull(await blobs.ReadAsync(JobHistoryStore.TailName("job-a"), ct));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task FlushAsync_PastTheCompactionBound_WritesASnapshotAndAShortTail_AndReadsBackTheThinnedHistory(string backend)
    {
        var ct = TestContext.Current.CancellationToken;
        var blobs = TestBlobStores.Create(azurite, backend);
        var store = await JobHistoryStore.OpenAsync(blobs, "job-long", cancellationToken: ct);
        const int steps = JobHistory.MaxPoints + 300;
        for (var step = 1; step <= steps; step++)
        {
            store.Append(new JobHistoryEntry(Step: Point(step, 1.0 / step)));
            if (step % 50 == 0)
            {
                await store.FlushAsync(ct);   // about a second's worth of steps
            }
        }

        store.Append(new JobHistoryEntry(Step: Point(steps - 5, 0.5)));   // the job went back to a checkpoint
        await store.FlushAsync(ct);

        var reopened = (await JobHistoryStore.OpenAsync(blobs, "job-long", cancellationToken: ct)).Get();
        Assert.Equal(store.Get().Steps.Select(p => p.Step), reopened.Steps.Select(p => p.Step));
        Assert.Equal(steps - 5, reopened.Steps[^1].Step);
        Assert.Equal(0.5, reopened.Steps[^1].Loss);
        Assert.InRange(reopened.Steps.Count, JobHistory.MaxPoints / 2, JobHistory.MaxPoints);
        var tail = (await blobs.ReadAsync(JobHistoryStore.TailName("job-long"), ct))!.Content.Length;
        var snapshot = (await blobs.ReadAsync(JobHistoryStore.SnapshotName("job-long"), ct))!.Content.Length;
        Assert.True(tail < snapshot / 4, $"the tail ({tail} bytes) should stay small beside the snapshot ({snapshot} bytes)");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task OpenAsync_EntriesAppendedAfterTheLastFlush_AreTheOnlyOnesLost(string backend)
    {
        var ct = TestContext.Current.CancellationToken;
        var blobs = TestBlobStores.Create(azurite, backend);
        var dying = await JobHistoryStore.OpenAsync(blobs, "job-crash", cancellationToken: ct);
        for (var step = 1; step <= 8; step++)
        {
            dying.Append(new JobHistoryEntry(Step: Point(step, 1)));
            if (step == 5)
            {
                await dying.FlushAsync(ct);
            }
        }

        // The silo dies before its next flush: a new activation has steps 1-5 and goes on from there.
        var next = await JobHistoryStore.OpenAsync(blobs, "job-crash", cancellationToken: ct);
        Assert.Equal([1L, 2, 3, 4, 5], next.Get().Steps.Select(p => p.Step));
        next.Append(new JobHistoryEntry(Step: Point(9, 1)));
        await next.FlushAsync(ct);
        Assert.Equal([1L, 2, 3, 4, 5, 9], (await JobHistoryStore.OpenAsync(blobs, "job-crash", cancellationToken: ct)).Get().Steps.Select(p => p.Step));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task FlushAsync_AnotherActivationWroteMeanwhile_KeepsItsEntriesAndAddsOwn(string backend)
    {
        var ct = TestContext.Current.CancellationToken;
        var blobs = TestBlobStores.Create(azurite, backend);
        var old = await JobHistoryStore.OpenAsync(blobs, "job-two", cancellationToken: ct);
        var current = await JobHistoryStore.OpenAsync(blobs, "job-two", cancellationToken: ct);
        current.Append(new JobHistoryEntry(Step: Point(1, 1)));
        current.Append(new JobHistoryEntry(Step: Point(2, 1)));
        await current.FlushAsync(ct);

        old.Append(new JobHistoryEntry(Checkpoint: new CheckpointPoint(2, DateTimeOffset.UnixEpoch, "c", 0.1, 1)));
        await old.FlushAsync(ct);    // its write is refused (ETag): it reads storage and re-applies its checkpoint
        await old.FlushAsync(ct);

        var read = (await JobHistoryStore.OpenAsync(blobs, "job-two", cancellationToken: ct)).Get();
        Assert.Equal([1L, 2], read.Steps.Select(p => p.Step));
        Assert.Equal([2L], read.Checkpoints.Select(c => c.Step));
    }

    [Fact]
    public async Task FlushAsync_StorageUnreachable_KeepsTheEntriesAndWritesThemOnceItIsBack()
    {
        var ct = TestContext.Current.CancellationToken;
        var blobs = new Unreachable(azurite.CreateStore());
        var store = await JobHistoryStore.OpenAsync(blobs, "job-away", cancellationToken: ct);
        store.Append(new JobHistoryEntry(Step: Point(1, 1)));
        await store.FlushAsync(ct);
        blobs.Away = true;
        store.Append(new JobHistoryEntry(Step: Point(2, 1)));
        store.Append(new JobHistoryEntry(Step: Point(3, 1)));

        Assert.False(await store.FlushAsync(ct));
        Assert.Equal(2, store.Unwritten);
        Assert.Equal([1L, 2, 3], store.Get().Steps.Select(p => p.Step));   // readers still see every step

        blobs.Away = false;
        Assert.True(await store.FlushAsync(ct));
        Assert.Equal([1L, 2, 3], (await JobHistoryStore.OpenAsync(blobs, "job-away", cancellationToken: ct)).Get().Steps.Select(p => p.Step));
    }

    private static StepPoint Point(long step, double loss) =>
        new(step, DateTimeOffset.UnixEpoch.AddSeconds(step), loss, loss, 12.5, 0.2, [new WorkerStepPoint("w0", 0.15, 0.05, 1 << 20, "cpu fp32", 1 << 28)]);

    /// <summary>A real store that fails like Azure storage out of reach (an <see cref="IOException"/>) while <see cref="Away"/>.</summary>
    private sealed class Unreachable(IBlobStore inner) : IBlobStore
    {
        public bool Away { get; set; }

        public string Describe(string name) => inner.Describe(name);

        public Task<BlobContent?> ReadAsync(string name, CancellationToken cancellationToken = default) =>
            Away ? throw new IOException("storage is away") : inner.ReadAsync(name, cancellationToken);

        public Task<IReadOnlyList<BlobItem>> ListAsync(string prefix, CancellationToken cancellationToken = default) =>
            Away ? throw new IOException("storage is away") : inner.ListAsync(prefix, cancellationToken);

        public Task<bool> DeleteAsync(string name, CancellationToken cancellationToken = default) =>
            Away ? throw new IOException("storage is away") : inner.DeleteAsync(name, cancellationToken);

        public Task<string> WriteAsync(string name, ReadOnlyMemory<byte> content, BlobCondition condition, CancellationToken cancellationToken = default) =>
            Away ? throw new IOException("storage is away") : inner.WriteAsync(name, content, condition, cancellationToken);
    }
}
