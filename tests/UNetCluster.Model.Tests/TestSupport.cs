using UNetCluster.Data.DataSets;
using UNetCluster.Model.Losses;
using UNetCluster.Model.Optimization;
using UNetCluster.Model.Training;
using static TorchSharp.torch;

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

    /// <summary>
    /// The data-parallel step's arithmetic at step 5: one engine's gradient over tiles 0..3 (<c>Whole</c>), and the
    /// sample-weighted average of two engines' gradients over tiles 0-1 and 2-3 (<c>Averaged</c>). The caller owns both.
    /// </summary>
    public static (Tensor Averaged, Tensor Whole) TwoReplicasAgainstOne(TrainingOptions options, IReadOnlyList<SectionTensors> sections)
    {
        using var single = new GradientEngine(options, sections);
        using var first = new GradientEngine(options, sections);
        using var second = new GradientEngine(options, sections);
        var whole = single.ComputeGradient(step: 5, [0, 1, 2, 3], TestContext.Current.CancellationToken).Gradient.clone();
        var a = first.ComputeGradient(step: 5, [0, 1], TestContext.Current.CancellationToken);
        var b = second.ComputeGradient(step: 5, [2, 3], TestContext.Current.CancellationToken);
        return (((a.Gradient * a.Samples) + (b.Gradient * b.Samples)) / (a.Samples + b.Samples), whole);
    }

    public static string TemporaryDirectory()
    {
        var path = Path.Combine(Path.GetTempPath(), "unetcluster-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }
}
