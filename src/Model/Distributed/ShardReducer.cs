using System.Runtime.InteropServices;
using UNetCluster.Model.Optimization;
using static TorchSharp.torch;

namespace UNetCluster.Model.Distributed;

/// <summary>
/// The arithmetic of one reducer (DESIGN.md, "A training step", point 3): it owns one shard of the parameters and
/// the matching optimizer state, collects each worker's gradient for the shard with its sample count, averages them
/// in worker order (so the result does not depend on arrival order), applies the optimizer and hands back the new
/// parameter shard. A contribution that is not finite is refused. Plain state, no Orleans: a reducer grain wraps it.
/// </summary>
public sealed class ShardReducer : IDisposable
{
    private readonly SortedDictionary<int, (int Samples, float[] Gradient)> _contributions = [];
    private readonly FlatOptimizer _optimizer;
    private readonly Tensor _parameters;

    public ShardReducer(ShardRange range, float[] initialParameters, OptimizerOptions optimizer)
    {
        ArgumentNullException.ThrowIfNull(initialParameters);
        if (initialParameters.Length != range.Length)
        {
            throw new ArgumentException($"Shard {range.Index} has {range.Length} values; got {initialParameters.Length}.", nameof(initialParameters));
        }

        Range = range;
        _parameters = tensor(initialParameters).DetachFromDisposeScope();
        _optimizer = new FlatOptimizer(optimizer, range.Length);
    }

    public ShardRange Range { get; }

    /// <summary>Steps applied to this shard.</summary>
    public long StepCount => _optimizer.StepCount;

    /// <summary>Workers whose contribution for the open step has arrived.</summary>
    public IReadOnlyCollection<int> Contributors => _contributions.Keys;

    /// <summary>
    /// Records a worker's gradient for this shard (float32 little-endian bytes). Returns false, recording nothing, when
    /// it holds NaN or infinity; a second contribution from the same worker replaces the first (a retried send).
    /// </summary>
    public bool Add(int worker, int samples, ReadOnlySpan<byte> gradient)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(samples);
        if (gradient.Length != Range.Length * sizeof(float))
        {
            throw new ArgumentException($"Shard {Range.Index} takes {Range.Length * sizeof(float)} bytes; got {gradient.Length}.", nameof(gradient));
        }

        var values = MemoryMarshal.Cast<byte, float>(gradient).ToArray();
        foreach (var v in values)
        {
            if (!float.IsFinite(v))
            {
                return false;
            }
        }

        _contributions[worker] = (samples, values);
        return true;
    }

    /// <summary>Forgets the open step's contributions (the step is recomputed by other workers).</summary>
    public void Discard() => _contributions.Clear();

    /// <summary>
    /// Averages the contributions in worker order, weighted by samples, applies the optimizer with the step's learning
    /// rate, clears the contributions and returns the new parameter shard as bytes.
    /// </summary>
    public byte[] Apply(double learningRate)
    {
        if (_contributions.Count == 0)
        {
            throw new InvalidOperationException($"Shard {Range.Index} has no contribution to apply.");
        }

        var total = _contributions.Values.Sum(c => c.Samples);
        var average = new double[Range.Length];
        foreach (var (_, (samples, gradient)) in _contributions)   // SortedDictionary: ascending worker index
        {
            var weight = (double)samples / total;
            for (var i = 0; i < average.Length; i++)
            {
                average[i] += weight * gradient[i];
            }
        }

        using (var scope = NewDisposeScope())
        {
            _optimizer.Step(_parameters, tensor(average.Select(v => (float)v).ToArray()), learningRate);
        }

        _contributions.Clear();
        return Parameters();
    }

    /// <summary>The current parameter shard as float32 little-endian bytes.</summary>
    public byte[] Parameters() => MemoryMarshal.AsBytes(_parameters.data<float>().ToArray().AsSpan()).ToArray();

    public void Dispose()
    {
        _optimizer.Dispose();
        _parameters.Dispose();
    }
}
