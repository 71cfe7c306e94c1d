using System.Diagnostics;
using TorchSharp;
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
/// augmentation are left out: PyTorch's side has none either. In <see cref="Precision.Bf16"/> the step is
/// <see cref="GradientEngine"/>'s, mirrored here because the engine draws its own tiles: forward and backward run on a
/// bf16 copy of the fp32 master weights (the tile cast to bf16, the logits cast back so that the loss and its softmax
/// are fp32), the bf16 gradient is widened into the fp32 flat gradient, and the fp32 update is copied into the bf16
/// model before the next step.
/// </summary>
public sealed class StepBenchmark : IDisposable
{
    private readonly UNet _model;                            // the fp32 master weights
    private readonly IReadOnlyList<Parameter> _parameters;
    private readonly UNet _compute;                          // the model forward and backward run: _model in fp32, its bf16 copy in bf16
    private readonly IReadOnlyList<Parameter> _computeParameters;
    private readonly ScalarType _computeType;
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
        _computeType = options.Precision.ScalarType();
        var copy = _computeType == ScalarType.Float32 ? null : new UNet(options.Model);   // built before the seed, as the engine does: same weights and tile in either precision
        manual_seed(options.Seed);
        _model = new UNet(options.Model);              // decides whether oneDNN stays on (see TorchRuntime)
        _parameters = _model.parameters().ToList();
        _compute = copy ?? _model;
        _compute.to(_computeType);
        _computeParameters = _compute.parameters().ToList();
        _flat = ParameterVector.Flatten(_parameters);
        _gradient = zeros(_flat.numel());
        _optimizer = new FlatOptimizer(options.OptimizerOptions, _flat.numel());
        _images = randn(options.Batch, options.Model.InputChannels, options.Tile, options.Tile);                // (B, 1, tile, tile)
        _masks = randint(0, options.Model.Classes, [options.Batch, OutputSize, OutputSize], dtype: ScalarType.Int64); // (B, out, out)
        _weights = rand(options.Batch, OutputSize, OutputSize) * 9 + 1;                                          // (B, out, out) in [1, 10)
        RefreshCompute();
    }

    public int OutputSize { get; }

    public long ParameterCount => _model.ParameterCount;

    /// <summary>The network being trained (its weights change with every <see cref="Step"/>).</summary>
    public UNet Model => _model;

    /// <summary>The flat optimizer and its state (Adam's moments).</summary>
    public FlatOptimizer Optimizer => _optimizer;

    /// <summary>
    /// Runs one step and releases its tensors. Returns its loss (read back, so the step has finished) and the seconds
    /// spent in the update: flattening and checking the gradient, the optimizer, assigning the parameters back (in bf16, to
    /// the masters and into the bf16 copy).
    /// </summary>
    public (double Loss, double UpdateSeconds) Step()
    {
        using var scope = NewDisposeScope();
        _compute.train();
        _compute.zero_grad();
        var logits = _compute.call(_images.to(_computeType)).to(ScalarType.Float32);        // (B, K, out, out); the loss in fp32
        var loss = SegmentationLoss.WeightedCrossEntropy(logits, _masks, _weights);
        loss.backward();
        var update = Stopwatch.GetTimestamp();
        ParameterVector.CopyGradients(_computeParameters, _gradient);                      // as GradientEngine does (widened to fp32)
        if (!GradientEngine.IsFinite(_gradient))
        {
            throw new InvalidOperationException("The gradient is not finite: the step cannot be timed as a training step.");
        }

        _optimizer.Step(_flat, _gradient);
        ParameterVector.Assign(_parameters, _flat);
        RefreshCompute();
        var updateSeconds = Stopwatch.GetElapsedTime(update).TotalSeconds;
        return (loss.item<float>(), updateSeconds);
    }

    /// <summary>Copies the fp32 master weights into the bf16 model, as the engine does before each step; nothing in fp32.</summary>
    private void RefreshCompute()
    {
        if (ReferenceEquals(_compute, _model))
        {
            return;
        }

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var (master, compute) in _parameters.Zip(_computeParameters))
        {
            compute.copy_(master);
        }
    }

    public void Dispose()
    {
        _weights.Dispose();
        _masks.Dispose();
        _images.Dispose();
        _optimizer.Dispose();
        _gradient.Dispose();
        _flat.Dispose();
        if (!ReferenceEquals(_compute, _model))
        {
            _compute.Dispose();
        }

        _model.Dispose();
    }
}
