using UNetCluster.Data.DataSets;
using UNetCluster.Model.Losses;
using UNetCluster.Model.Optimization;
using UNetCluster.Model.Training;

namespace UNetCluster.Model.Tests;

/// <summary>Shared fixtures: the bundled real data, loaded once, and small training configurations.</summary>
internal static class TestSupport
{
    private static readonly Lazy<LabelledDataSet> Bundled = new(() =>
        DataSetLoader.LoadLabelled(BundledData.ImagesDirectory, BundledData.MasksDirectory));

    /// <summary>The 24 bundled ISBI 2012 sections.</summary>
    public static LabelledDataSet BundledSections => Bundled.Value;

    /// <summary>
    /// A small plan that trains fast on CPU: depth 2, 16 base channels (a multiple of 16 keeps oneDNN on), 124 -> 84 tiles.
    /// </summary>
    public static TrainingOptions SmallTraining(long steps = 30, long seed = 7, int batch = 2) => new(
        Model: new UNetOptions(Depth: 2, BaseChannels: 16),
        Optimizer: new OptimizerOptions(OptimizerKind.Adam, LearningRate: 2e-3),
        Loss: LossKind.WeightedCrossEntropy,
        TileSize: 124,
        BatchSize: batch,
        Steps: steps,
        Minutes: null,
        Seed: seed,
        ValidationSections: 3,
        CheckpointEvery: 10);

    public static string TemporaryDirectory()
    {
        var path = Path.Combine(Path.GetTempPath(), "unetcluster-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }
}
