using UNetCluster.Data.Storage;
using UNetCluster.Model;
using UNetCluster.Model.Checkpoints;
using UNetCluster.Model.Modules;
using UNetCluster.Model.Optimization;
using UNetCluster.Model.Tests;
using UNetCluster.Tests.Common;
using UNetCluster.Training.Checkpoints;
using UNetCluster.Training.Local;
using static TorchSharp.torch;

namespace UNetCluster.Training.Tests.Checkpoints;

/// <summary><see cref="CheckpointStore"/> on real Azurite and on a local folder: torn writes, corruption, retention.</summary>
[Trait("Category", "Blob")]
public sealed class CheckpointStoreBlobTests(AzuriteFixture azurite)
{
    private static readonly UNetOptions Small = new(Depth: 2, BaseChannels: 16);

    public static TheoryData<string> Backends => TestBlobStores.Backends;

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task SaveAsync_CrashBeforeThePointerIsWritten_LeavesThePreviousCheckpointLatest(string backend)
    {
        var ct = TestContext.Current.CancellationToken;
        var blobs = TestBlobStores.Create(azurite, backend);
        var store = CheckpointStore.ForJob(blobs, "job-crash");
        using var model = new UNet(Small);
        using var optimizer = NewOptimizer(model);
        await store.SaveAsync(CheckpointSnapshot.Capture(10, model, optimizer, 1, null, 0.5), ct);
        Perturb(model);

        // The process "dies" after the checkpoint's files and manifest are written, before the pointer is.
        var crashing = CheckpointStore.ForJob(new CrashBeforeWriting(blobs, "jobs/job-crash/latest"), "job-crash");
        await Assert.ThrowsAsync<IOException>(() => crashing.SaveAsync(CheckpointSnapshot.Capture(20, model, optimizer, 1, null, 0.4), ct));

        Assert.Contains(20, await store.ListStepsAsync(ct)); // the files of step 20 are there...
        Assert.Equal(10, await store.ReadLatestStepAsync(ct)); // ...but it does not exist as a checkpoint
        using var loaded = await store.LoadLatestAsync(cancellationToken: ct);
        Assert.Equal(10, loaded!.Manifest.Step);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task LoadLatestAsync_AByteOfTheLatestModelBlobFlipped_ReportsItAndLoadsThePreviousCheckpoint(string backend)
    {
        var ct = TestContext.Current.CancellationToken;
        var blobs = TestBlobStores.Create(azurite, backend);
        var store = CheckpointStore.ForJob(blobs, "job-corrupt");
        using var model = new UNet(Small);
        using var optimizer = NewOptimizer(model);
        await store.SaveAsync(CheckpointSnapshot.Capture(1, model, optimizer, 1, null, null), ct);
        using var firstWeights = Flat(model);
        Perturb(model);
        await store.SaveAsync(CheckpointSnapshot.Capture(2, model, optimizer, 1, null, null), ct);

        var name = "jobs/job-corrupt/checkpoints/000000002/model.safetensors";
        var blob = (await blobs.ReadAsync(name, ct))!;
        blob.Content[blob.Content.Length - 3] ^= 0x40; // one bit of one weight
        await blobs.WriteAsync(name, blob.Content, BlobCondition.IfMatch(blob.ETag), ct);

        var reports = new List<string>();
        using var loaded = await store.LoadLatestAsync(reports.Add, ct);

        Assert.Equal(1, loaded!.Manifest.Step);
        var report = Assert.Single(reports);
        Assert.Contains("corrupted", report, StringComparison.Ordinal);
        Assert.Contains("000000002/model.safetensors", report, StringComparison.Ordinal);
        using var restored = CheckpointStore.CreateModel(loaded);
        using var restoredWeights = Flat(restored);
        Assert.True(restoredWeights.Equals(firstWeights));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task SaveAsync_MoreThanKeepLast_KeepsTheLastKAndTheBest(string backend)
    {
        var ct = TestContext.Current.CancellationToken;
        var store = CheckpointStore.ForJob(TestBlobStores.Create(azurite, backend), "job-retention", new CheckpointRetention(KeepLast: 2));
        using var model = new UNet(Small);
        using var optimizer = NewOptimizer(model);
        double[] losses = [0.9, 0.1, 0.5, 0.6, 0.7];
        for (var i = 0; i < losses.Length; i++)
        {
            await store.SaveAsync(CheckpointSnapshot.Capture(i + 1, model, optimizer, 1, null, losses[i]), ct);
        }

        Assert.Equal(new long[] { 2, 4, 5 }, await store.ListStepsAsync(ct)); // the best (0.1 at step 2) and the last two
        Assert.Equal(5, await store.ReadLatestStepAsync(ct));
        using var best = await store.LoadAsync(2, ct);
        Assert.Equal(0.1, best.Manifest.Loss);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task SaveAsync_PointerAlreadyNamesALaterStep_DoesNotMoveItBack(string backend)
    {
        var ct = TestContext.Current.CancellationToken;
        var store = CheckpointStore.ForJob(TestBlobStores.Create(azurite, backend), "job-order");
        using var model = new UNet(Small);
        using var optimizer = NewOptimizer(model);

        var later = await store.SaveAsync(CheckpointSnapshot.Capture(8, model, optimizer, 1, null, null), ct);
        var earlier = await store.SaveAsync(CheckpointSnapshot.Capture(7, model, optimizer, 1, null, null), ct);

        Assert.True(later.IsLatest);
        Assert.False(earlier.IsLatest);
        Assert.Equal(8, await store.ReadLatestStepAsync(ct));
    }

    internal static FlatOptimizer NewOptimizer(UNet model) =>
        new(new OptimizerOptions(OptimizerKind.Adam), ParameterVector.Length(model.parameters()));

    internal static Tensor Flat(UNet model) => ParameterVector.Flatten(model.parameters().ToList());

    internal static void Perturb(UNet model)
    {
        using var noGrad = no_grad();
        foreach (var parameter in model.parameters())
        {
            using var noise = randn_like(parameter) * 0.01;
            parameter.add_(noise);
        }
    }

    /// <summary>A store that fails like a dying process on the write of one blob (and so never writes it).</summary>
    private sealed class CrashBeforeWriting(IBlobStore inner, string fatalName) : IBlobStore
    {
        public string Describe(string name) => inner.Describe(name);

        public Task<BlobContent?> ReadAsync(string name, CancellationToken cancellationToken = default) => inner.ReadAsync(name, cancellationToken);

        public Task<IReadOnlyList<BlobItem>> ListAsync(string prefix, CancellationToken cancellationToken = default) => inner.ListAsync(prefix, cancellationToken);

        public Task<bool> DeleteAsync(string name, CancellationToken cancellationToken = default) => inner.DeleteAsync(name, cancellationToken);

        public Task<string> WriteAsync(string name, ReadOnlyMemory<byte> content, BlobCondition condition, CancellationToken cancellationToken = default) =>
            name == fatalName ? throw new IOException("simulated crash before the pointer write") : inner.WriteAsync(name, content, condition, cancellationToken);
    }
}
