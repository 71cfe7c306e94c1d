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

public sealed class LocalCheckpointStoreTests
{
    private static readonly UNetOptions Small = new(Depth: 2, BaseChannels: 16);

    [Fact]
    public void SaveThenLoad_RestoresWeightsOptimizerStateAndManifest()
    {
        using var scope = NewDisposeScope();
        var store = new LocalCheckpointStore(TestSupport.TemporaryDirectory());
        using var model = new UNet(Small);
        using var optimizer = new FlatOptimizer(new OptimizerOptions(OptimizerKind.Adam), ParameterVector.Length(model.parameters()));
        var flat = ParameterVector.Flatten(model.parameters().ToList());
        optimizer.Step(flat, randn(flat.numel()));
        ParameterVector.Assign(model.parameters().ToList(), flat);

        var folder = store.Save(12, model, optimizer, seed: 5, training: null, loss: 0.25);
        Assert.Equal("000000012", Path.GetFileName(folder));

        using var loaded = store.LoadLatest()!;
        Assert.Equal(12, loaded.Manifest.Step);
        Assert.Equal(5, loaded.Manifest.Seed);
        Assert.Equal(Small, loaded.Manifest.Model);
        Assert.Equal(0.25, loaded.Manifest.Loss);
        using var restored = LocalCheckpointStore.CreateModel(loaded);
        var restoredFlat = ParameterVector.Flatten(restored.parameters().ToList());
        Assert.True(restoredFlat.Equals(flat));
        Assert.True(loaded.OptimizerState["exp_avg"].Equals(optimizer.State["exp_avg"]));
        Assert.Equal(1, loaded.OptimizerState["step"].item<long>());
    }

    [Fact]
    public void LoadLatest_CorruptedLatest_ReportsItAndFallsBackToThePreviousCheckpoint()
    {
        var store = new LocalCheckpointStore(TestSupport.TemporaryDirectory());
        using var model = new UNet(Small);
        using var optimizer = new FlatOptimizer(new OptimizerOptions(), ParameterVector.Length(model.parameters()));
        store.Save(1, model, optimizer, 1, null, null);
        var second = store.Save(2, model, optimizer, 1, null, null);
        var weights = Path.Combine(second, LocalCheckpointStore.ModelFile);
        var bytes = File.ReadAllBytes(weights);
        bytes[^1] ^= 0xFF;
        File.WriteAllBytes(weights, bytes);

        var reports = new List<string>();
        using var loaded = store.LoadLatest(reports.Add)!;
        Assert.Equal(1, loaded.Manifest.Step);
        Assert.Single(reports);
        Assert.Contains("corrupted", reports[0], StringComparison.Ordinal);
    }

    [Fact]
    public void LoadLatest_PointerNamingAMissingCheckpoint_ReportsItLoadsTheNewestOneAndTheNextSaveRepairsThePointer()
    {
        var store = new LocalCheckpointStore(TestSupport.TemporaryDirectory());
        using var model = new UNet(Small);
        using var optimizer = new FlatOptimizer(new OptimizerOptions(), ParameterVector.Length(model.parameters()));
        store.Save(2, model, optimizer, 1, null, null);
        store.Save(4, model, optimizer, 1, null, null);
        var pointer = Path.Combine(store.Root, LocalCheckpointStore.LatestPointer);
        File.WriteAllText(pointer, "000000777\n");

        var reports = new List<string>();
        using (var loaded = store.LoadLatest(reports.Add)!)
        {
            Assert.Equal(4, loaded.Manifest.Step);
        }

        Assert.Contains(reports, r => r.Contains("names step 777, which has no checkpoint", StringComparison.Ordinal));
        store.Save(5, model, optimizer, 1, null, null);
        Assert.Equal("000000005", File.ReadAllText(pointer).Trim());   // a dangling pointer does not hold new checkpoints back
    }

    [Fact]
    public void Save_MoreThanKeepLast_PrunesTheOldest()
    {
        var store = new LocalCheckpointStore(TestSupport.TemporaryDirectory(), keepLast: 2);
        using var model = new UNet(Small);
        using var optimizer = new FlatOptimizer(new OptimizerOptions(), ParameterVector.Length(model.parameters()));
        for (var step = 1; step <= 4; step++)
        {
            store.Save(step, model, optimizer, 1, null, null);
        }

        Assert.Equal(new[] { "000000003", "000000004" }, store.List().Select(Path.GetFileName));
        Assert.Equal("000000004", File.ReadAllText(Path.Combine(store.Root, LocalCheckpointStore.LatestPointer)).Trim());
    }

    [Fact]
    public void SafeTensors_WriteThenRead_KeepsNamesShapesValuesAndMetadata()
    {
        using var scope = NewDisposeScope();
        var a = randn(2, 3);
        var b = tensor(new long[] { 7, -1 });
        using var stream = new MemoryStream();
        SafeTensors.Write(stream, [("layer.weight", a), ("step", b)], new Dictionary<string, string> { ["format"] = "pt" });
        var path = Path.Combine(TestSupport.TemporaryDirectory(), "t.safetensors");
        File.WriteAllBytes(path, stream.ToArray());

        var (tensors, metadata) = SafeTensors.Read(path);
        Assert.True(tensors["layer.weight"].Equals(a));
        Assert.True(tensors["step"].Equals(b));
        Assert.Equal("pt", metadata["format"]);
        var headerLength = BitConverter.ToUInt64(stream.ToArray(), 0);
        Assert.Equal(0UL, (8 + headerLength) % 8);
    }

    [Fact]
    public void SafeTensors_TruncatedFile_IsReportedAsInvalid()
    {
        using var scope = NewDisposeScope();
        using var stream = new MemoryStream();
        SafeTensors.Write(stream, [("x", randn(100))]);
        var path = Path.Combine(TestSupport.TemporaryDirectory(), "cut.safetensors");
        File.WriteAllBytes(path, stream.ToArray()[..200]);
        var error = Assert.Throws<InvalidDataException>(() => SafeTensors.Read(path));
        Assert.Contains("cut.safetensors", error.Message, StringComparison.Ordinal);
    }
}
