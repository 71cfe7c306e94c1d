using System.Diagnostics;
using TorchSharp.Modules;
using UNetCluster.Model;
using UNetCluster.Model.Losses;
using UNetCluster.Model.Modules;
using UNetCluster.Model.Optimization;
using UNetCluster.Model.Training;
using UNetCluster.Training.Local;
using static TorchSharp.torch;

namespace UNetCluster.Bench;

/// <summary>
/// One training step as <see cref="LocalTrainer"/> takes it, on a fixed random tile: forward, weighted
/// cross-entropy with a per-pixel weight map, backward, the gradient flattened to one vector and checked finite,
/// the flat optimizer's update, and the flat parameters assigned back to the model. Tile sampling and
/// augmentation are left out: PyTorch's side has none either.
/// </summary>
public sealed class StepBenchmark : IDisposable
{
    private readonly UNet _model;
    private readonly IReadOnlyList<Parameter> _parameters;
    private readonly Tensor _flat;
    private readonly Tensor _gradient;
    private readonly FlatOptimizer _optimizer;
    private readonly Tensor _images;
    private readonly Tensor _masks;
    private readonly Tensor _weights;

    public StepBenchmark(BenchOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        OutputSize = TileGeometry.RequireValid(options.Model, options.Tile, "--tile");
        manual_seed(options.Seed);
        _model = new UNet(options.Model);              // decides whether oneDNN stays on (see TorchRuntime)
        _parameters = _model.parameters().ToList();
        _flat = ParameterVector.Flatten(_parameters);
        _gradient = zeros(_flat.numel());
        _optimizer = new FlatOptimizer(options.OptimizerOptions, _flat.numel());
        _images = randn(options.Batch, options.Model.InputChannels, options.Tile, options.Tile);                // (B, 1, tile, tile)
        _masks = randint(0, options.Model.Classes, [options.Batch, OutputSize, OutputSize], dtype: ScalarType.Int64); // (B, out, out)
        _weights = rand(options.Batch, OutputSize, OutputSize) * 9 + 1;                                          // (B, out, out) in [1, 10)
    }

    public int OutputSize { get; }

    public long ParameterCount => _model.ParameterCount;

    /// <summary>The network being trained (its weights change with every <see cref="Step"/>).</summary>
    public UNet Model => _model;

    /// <summary>The flat optimizer and its state (Adam's moments).</summary>
    public FlatOptimizer Optimizer => _optimizer;

    /// <summary>
    /// Runs one step and releases its tensors. Returns its loss (read back, so the step has finished) and the seconds
    /// spent in the update: flattening and checking the gradient, the optimizer, assigning the parameters back.
    /// </summary>
    public (double Loss, double UpdateSeconds) Step()
    {
        using var scope = NewDisposeScope();
        _model.train();
        _model.zero_grad();
        var logits = _model.call(_images);                                                  // (B, K, out, out)
        var loss = SegmentationLoss.WeightedCrossEntropy(logits, _masks, _weights);
        loss.backward();
        var update = Stopwatch.GetTimestamp();
        ParameterVector.CopyGradients(_parameters, _gradient);                             // as GradientEngine does
        if (!GradientEngine.IsFinite(_gradient))
        {
            throw new InvalidOperationException("The gradient is not finite: the step cannot be timed as a training step.");
        }

        _optimizer.Step(_flat, _gradient);
        ParameterVector.Assign(_parameters, _flat);
        var updateSeconds = Stopwatch.GetElapsedTime(update).TotalSeconds;
        return (loss.item<float>(), updateSeconds);
    }

    public void Dispose()
    {
        _weights.Dispose();
        _masks.Dispose();
        _images.Dispose();
        _optimizer.Dispose();
        _gradient.Dispose();
        _flat.Dispose();
        _model.Dispose();
    }
}
