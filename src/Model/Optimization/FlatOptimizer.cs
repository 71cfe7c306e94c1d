using TorchSharp;
using static TorchSharp.torch;

namespace UNetCluster.Model.Optimization;

/// <summary>
/// SGD with momentum or Adam over one contiguous 1-D float32 parameter vector: the whole model in one process, or
/// one shard of it in a reducer. Working on flat vectors is what lets the parameter vector be cut into shards that
/// different reducers own, each with the matching slice of optimizer state. The update rules are PyTorch's
/// (torch.optim.SGD without dampening, torch.optim.Adam), so a shard-wise update equals the whole-vector update.
/// </summary>
public sealed class FlatOptimizer : IDisposable
{
    // Owned across steps: detached from any dispose scope the caller runs a step in, released by Dispose.
    private readonly Dictionary<string, Tensor> _state = [];
    private Tensor? _denominator;
    private Tensor? _decayed;

    public FlatOptimizer(OptimizerOptions options, long length)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        Options = options.Validate();
        Length = length;
        foreach (var name in StateNames(options.Kind))
        {
            _state[name] = zeros(length, dtype: ScalarType.Float32).DetachFromDisposeScope();
        }
    }

    public OptimizerOptions Options { get; }

    public long Length { get; }

    /// <summary>Updates applied so far (Adam's bias correction depends on it).</summary>
    public long StepCount { get; private set; }

    /// <summary>The optimizer state vectors by name ("momentum" for SGD; "exp_avg", "exp_avg_sq" for Adam).</summary>
    public IReadOnlyDictionary<string, Tensor> State => _state;

    /// <summary>The state vector names of an update rule.</summary>
    public static IReadOnlyList<string> StateNames(OptimizerKind kind) =>
        kind == OptimizerKind.Adam ? ["exp_avg", "exp_avg_sq"] : ["momentum"];

    /// <summary>Applies one update in place: <paramref name="parameters"/> -= f(<paramref name="gradient"/>, state).</summary>
    public void Step(Tensor parameters, Tensor gradient) => Step(parameters, gradient, Options.LearningRate);

    /// <summary>Applies one update with the learning rate of this step (a schedule's value).</summary>
    public void Step(Tensor parameters, Tensor gradient, double learningRate)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(gradient);
        if (parameters.numel() != Length || gradient.numel() != Length)
        {
            throw new ArgumentException(
                $"The optimizer holds state for {Length} values but got {parameters.numel()} parameters and {gradient.numel()} gradients.");
        }

        // In place, into buffers kept across steps: fresh large allocations cost more than the arithmetic on these
        // machines (a new 124 MB buffer is page-faulted in on every step at 64 base channels).
        using var noGrad = no_grad();
        var grad = gradient;
        if (Options.WeightDecay > 0)
        {
            _decayed ??= empty(Length, dtype: ScalarType.Float32).DetachFromDisposeScope();
            grad = _decayed.copy_(gradient).add_(parameters, alpha: Options.WeightDecay);
        }

        StepCount++;
        if (Options.Kind == OptimizerKind.Sgd)
        {
            var momentum = _state["momentum"];
            if (StepCount == 1)
            {
                momentum.copy_(grad);                                 // torch.optim.SGD: buf = grad on the first step
            }
            else
            {
                momentum.mul_(Options.Momentum).add_(grad);           // buf = momentum * buf + grad
            }

            parameters.add_(momentum, alpha: -learningRate);
            return;
        }

        var expAvg = _state["exp_avg"];
        var expAvgSq = _state["exp_avg_sq"];
        expAvg.mul_(Options.Beta1).add_(grad, alpha: 1 - Options.Beta1);
        expAvgSq.mul_(Options.Beta2).addcmul_(grad, grad, value: 1 - Options.Beta2);
        var biasCorrection1 = 1 - Math.Pow(Options.Beta1, StepCount);
        var biasCorrection2 = 1 - Math.Pow(Options.Beta2, StepCount);
        _denominator ??= empty(Length, dtype: ScalarType.Float32).DetachFromDisposeScope();
        _denominator.copy_(expAvgSq).sqrt_().div_(Math.Sqrt(biasCorrection2)).add_(Options.Epsilon);
        parameters.addcdiv_(expAvg, _denominator, value: -learningRate / biasCorrection1);
    }

    /// <summary>Restores state saved from an optimizer with the same options and length.</summary>
    public void Load(long stepCount, IReadOnlyDictionary<string, Tensor> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        foreach (var (name, tensor) in _state)
        {
            if (!state.TryGetValue(name, out var saved) || saved.numel() != Length)
            {
                throw new InvalidDataException(
                    $"The saved optimizer state has no '{name}' vector of {Length} values; it was saved by another optimizer or model.");
            }

            using var noGrad = no_grad();
            tensor.copy_(saved.reshape(Length));
        }

        StepCount = stepCount;
    }

    public void Dispose()
    {
        foreach (var tensor in _state.Values)
        {
            tensor.Dispose();
        }

        _state.Clear();
        _denominator?.Dispose();
        _decayed?.Dispose();
    }
}
