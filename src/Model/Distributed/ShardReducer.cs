using System.Numerics;
using System.Runtime.InteropServices;
using UNetCluster.Model.Optimization;
using static TorchSharp.torch;

namespace UNetCluster.Model.Distributed;

/// <summary>
/// The arithmetic of one reducer (DESIGN.md, "A training step", point 3): it owns one shard of the parameters and
/// the matching optimizer state, collects each worker's gradient for the shard (in buckets) with its sample count,
/// averages them in worker order (so the result does not depend on arrival order), applies the optimizer and hands
/// back the new parameter shard. A contribution that is not finite is refused. Plain state, no Orleans: a reducer
/// grain wraps it.
/// </summary>
public sealed class ShardReducer : IDisposable
{
    private readonly SortedDictionary<int, Contribution> _contributions = [];
    private readonly FlatOptimizer _optimizer;
    private readonly Tensor _parameters;
    private Tensor? _mean;
    private readonly float[] _parameterValues;
    private readonly double[] _average = new double[AverageChunk];   // the running sums of one chunk, in double
    private readonly Stack<float[]> _spare = new();   // gradient buffers of earlier steps: one per worker, reused

    public ShardReducer(ShardRange range, float[] initialParameters, OptimizerOptions optimizer)
    {
        ArgumentNullException.ThrowIfNull(initialParameters);
        if (initialParameters.Length != range.Length)
        {
            throw new ArgumentException($"Shard {range.Index} has {range.Length} values; got {initialParameters.Length}.", nameof(initialParameters));
        }

        Range = range;
        _parameterValues = (float[])initialParameters.Clone();
        _parameters = tensor(initialParameters).DetachFromDisposeScope();
        _optimizer = new FlatOptimizer(optimizer, range.Length);
    }

    public ShardRange Range { get; }

    /// <summary>Steps applied to this shard.</summary>
    public long StepCount => _optimizer.StepCount;

    /// <summary>Workers whose whole gradient for the open step has arrived.</summary>
    public IReadOnlyCollection<int> Contributors => _contributions.Where(c => c.Value.IsComplete).Select(c => c.Key).ToList();

    /// <summary>The current parameters (a copy of the shard's values, updated by <see cref="Apply"/>).</summary>
    public ReadOnlySpan<float> ParameterValues => _parameterValues;

    /// <summary>The optimizer state vectors of the shard.</summary>
    public IReadOnlyDictionary<string, Tensor> OptimizerState => _optimizer.State;

    /// <summary>Records a worker's whole gradient for this shard (float32 little-endian bytes). See <see cref="AddBucket"/>.</summary>
    public bool Add(int worker, int samples, ReadOnlySpan<byte> gradient)
    {
        if (gradient.Length != Range.Length * sizeof(float))
        {
            throw new ArgumentException($"Shard {Range.Index} takes {Range.Length * sizeof(float)} bytes; got {gradient.Length}.", nameof(gradient));
        }

        return AddBucket(worker, samples, Range.Offset, gradient);
    }

    /// <summary>
    /// Records a bucket of a worker's gradient starting at <paramref name="offset"/> of the flat vector, its values float32
    /// or, with <paramref name="bfloat16"/>, bf16 (widened to float32 exactly, so the average in worker order is the same
    /// as for the same values sent as float32). Returns false, recording nothing, when it holds NaN or infinity; the
    /// same bucket sent again replaces the first (a retried send).
    /// </summary>
    public bool AddBucket(int worker, int samples, long offset, ReadOnlySpan<byte> gradient, bool bfloat16 = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(worker);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(samples);
        var size = bfloat16 ? 2 : sizeof(float);
        var count = gradient.Length / size;
        var start = offset - Range.Offset;
        if (gradient.Length % size != 0 || start < 0 || start + count > Range.Length)
        {
            throw new ArgumentException(
                $"A bucket of {gradient.Length} bytes at {offset} does not fit shard {Range.Index} [{Range.Offset}, {Range.Offset + Range.Length}).", nameof(gradient));
        }

        var finite = bfloat16 ? BFloat16Values.AllFinite(gradient) : FiniteValues.All(MemoryMarshal.Cast<byte, float>(gradient));
        if (!finite)
        {
            return false;
        }

        if (!_contributions.TryGetValue(worker, out var contribution))
        {
            contribution = new Contribution(samples, _spare.TryPop(out var buffer) ? buffer : new float[Range.Length]);
            _contributions[worker] = contribution;
        }

        BFloat16Values.Decode(gradient, contribution.Gradient.AsSpan((int)start, count), bfloat16);
        contribution.Mark(start, count);
        return true;
    }

    /// <summary>True when workers 0..<paramref name="workers"/>-1 each sent their whole gradient for the shard.</summary>
    public bool IsComplete(int workers) =>
        _contributions.Count == workers && _contributions.Keys.Max() == workers - 1 && _contributions.Values.All(c => c.IsComplete);

    /// <summary>Forgets the open step's contributions (the step is recomputed by other workers); keeps their buffers.</summary>
    public void Discard()
    {
        foreach (var contribution in _contributions.Values)
        {
            _spare.Push(contribution.Gradient);
        }

        _contributions.Clear();
    }

    /// <summary>
    /// Averages the whole contributions in worker order, weighted by samples, applies the optimizer with the step's
    /// learning rate and clears the contributions. The new parameters are in <see cref="ParameterValues"/>.
    /// </summary>
    public void Apply(double learningRate)
    {
        var complete = _contributions.Where(c => c.Value.IsComplete).ToList();   // ascending worker index
        if (complete.Count == 0)
        {
            throw new InvalidOperationException($"Shard {Range.Index} has no whole contribution to apply.");
        }

        var total = complete.Sum(c => c.Value.Samples);
        var mean = complete[0].Value.Gradient;   // reused as the float32 mean: the contributions are discarded below
        if (complete.Count > 1)
        {
            var weights = complete.Select(c => (double)c.Value.Samples / total).ToArray();
            Average(complete.Select(c => c.Value.Gradient).ToArray(), weights, mean, _average);
        }

        // One contribution is its own mean: (float)(1.0 * g) is g, so it is used as it is.
        // Into a tensor kept across steps: a fresh one of the shard's size is page-faulted in on every step.
        _mean ??= empty(Range.Length, dtype: ScalarType.Float32).DetachFromDisposeScope();
        MemoryMarshal.AsBytes(mean.AsSpan()).CopyTo(_mean.bytes);
        _optimizer.Step(_parameters, _mean, learningRate);
        ParameterVector.CopyTo(_parameters, _parameterValues);

        Discard();
    }

    /// <summary>
    /// Copies the float32 mean gradient of the last step applied, from <paramref name="offset"/> of the flat vector, into
    /// <paramref name="destination"/>: sent to a copy of this reducer as one worker's whole contribution and applied with
    /// the same learning rate, it gives the copy the same parameters and optimizer state (one contribution is its own mean).
    /// </summary>
    public void CopyLastMean(long offset, Span<byte> destination)
    {
        var start = offset - Range.Offset;
        var length = destination.Length / sizeof(float);
        if (_mean is null || destination.Length % sizeof(float) != 0 || start < 0 || start + length > Range.Length)
        {
            throw new InvalidOperationException($"Shard {Range.Index} has no applied step, or {length} values at {offset} are not inside it.");
        }

        _mean.bytes.Slice(checked((int)(start * sizeof(float))), destination.Length).CopyTo(destination);
    }

    /// <summary>Replaces a range of the parameters or of an optimizer state vector (set-up from a checkpoint).</summary>
    public void Load(string name, long offset, ReadOnlySpan<byte> values)
    {
        var floats = MemoryMarshal.Cast<byte, float>(values);
        var start = offset - Range.Offset;
        if (start < 0 || start + floats.Length > Range.Length)
        {
            throw new ArgumentException($"{floats.Length} values at {offset} do not fit shard {Range.Index}.", nameof(values));
        }

        using var scope = NewDisposeScope();
        using var source = tensor(floats.ToArray());
        var target = name == ParametersName
            ? _parameters
            : _optimizer.State.TryGetValue(name, out var state) ? state : throw new ArgumentException($"The optimizer has no state vector '{name}'.", nameof(name));
        using (no_grad())
        {
            target.narrow(0, start, floats.Length).copy_(source);
        }

        if (name == ParametersName)
        {
            floats.CopyTo(_parameterValues.AsSpan((int)start));
        }
    }

    /// <summary>Sets the optimizer's step count (Adam's bias correction) after loading state.</summary>
    public void SetStepCount(long steps)
    {
        var state = _optimizer.State.ToDictionary(kv => kv.Key, kv => kv.Value);
        _optimizer.Load(steps, state);
    }

    /// <summary>Copies a range of the parameters or of an optimizer state vector as float32 little-endian bytes.</summary>
    public byte[] Read(string name, long offset, int length)
    {
        var start = offset - Range.Offset;
        if (start < 0 || length < 0 || start + length > Range.Length)
        {
            throw new ArgumentException($"{length} values at {offset} are not inside shard {Range.Index}.", nameof(offset));
        }

        if (name == ParametersName)
        {
            var values = new byte[length * sizeof(float)];
            CopyParameters(offset, values);
            return values;
        }

        var state = _optimizer.State.TryGetValue(name, out var s) ? s : throw new ArgumentException($"The optimizer has no state vector '{name}'.", nameof(name));
        using var slice = state.narrow(0, start, length).contiguous();
        return slice.bytes.ToArray();
    }

    /// <summary>
    /// Copies the parameter values [offset, offset + length) of the flat vector into <paramref name="destination"/> as
    /// float32 bytes or, with <paramref name="bfloat16"/>, their bf16 rounding (what a bf16 worker computes from).
    /// </summary>
    public void CopyParameters(long offset, Span<byte> destination, bool bfloat16 = false)
    {
        var size = bfloat16 ? 2 : sizeof(float);
        var start = offset - Range.Offset;
        var length = destination.Length / size;
        if (start < 0 || destination.Length % size != 0 || start + length > Range.Length)
        {
            throw new ArgumentException($"{length} values at {offset} are not inside shard {Range.Index}.", nameof(offset));
        }

        BFloat16Values.Encode(_parameterValues.AsSpan((int)start, length), destination, bfloat16);
    }

    /// <summary>
    /// Copies a whole optimizer state vector of the shard into <paramref name="destination"/> (its bytes), reusing the
    /// caller's buffer: fresh large arrays are what a checkpoint's copy costs most on this kind of machine.
    /// </summary>
    public void CopyState(string name, Span<byte> destination)
    {
        var state = _optimizer.State.TryGetValue(name, out var s) ? s : throw new ArgumentException($"The optimizer has no state vector '{name}'.", nameof(name));
        using var flat = state.is_contiguous() ? state.alias() : state.contiguous();
        flat.bytes.CopyTo(destination);
    }

    /// <summary>The name of the parameter vector in <see cref="Load"/> and <see cref="Read"/>.</summary>
    public const string ParametersName = "parameters";

    public void Dispose()
    {
        _optimizer.Dispose();
        _parameters.Dispose();
        _mean?.Dispose();
    }

    /// <summary>Values averaged per chunk: the chunk's double sums stay in the cache.</summary>
    private const int AverageChunk = 16 * 1024;

    /// <summary>
    /// mean[i] = (float)(sum over k in order of weights[k] * gradients[k][i]), the sum in double: per value the same
    /// operations in the same order whatever the vector width (no fused multiply-add), so it is deterministic.
    /// <paramref name="mean"/> may be one of the gradients.
    /// </summary>
    public static void Average(float[][] gradients, double[] weights, Span<float> mean, double[] sums)
    {
        var width = Vector<float>.Count;
        for (var start = 0; start < mean.Length; start += sums.Length)
        {
            var length = Math.Min(sums.Length, mean.Length - start);
            var chunk = sums.AsSpan(0, length);
            chunk.Clear();
            for (var k = 0; k < gradients.Length; k++)
            {
                var weight = new Vector<double>(weights[k]);
                var gradient = gradients[k].AsSpan(start, length);
                var i = 0;
                for (; i <= length - width; i += width)
                {
                    Vector.Widen(new Vector<float>(gradient[i..]), out var low, out var high);
                    var l = chunk.Slice(i, width / 2);
                    var h = chunk.Slice(i + (width / 2), width / 2);
                    (new Vector<double>(l) + (weight * low)).CopyTo(l);
                    (new Vector<double>(h) + (weight * high)).CopyTo(h);
                }

                for (; i < length; i++)
                {
                    chunk[i] += weights[k] * gradient[i];
                }
            }

            var target = mean.Slice(start, length);
            var j = 0;
            for (; j <= length - width; j += width)
            {
                Vector.Narrow(new Vector<double>(chunk[j..]), new Vector<double>(chunk[(j + (width / 2))..])).CopyTo(target[j..]);
            }

            for (; j < length; j++)
            {
                target[j] = (float)chunk[j];
            }
        }
    }

    private sealed class Contribution(int samples, float[] gradient)
    {
        private long _received;
        private readonly HashSet<long> _starts = [];

        public int Samples { get; } = samples;

        public float[] Gradient { get; } = gradient;

        public bool IsComplete => _received == Gradient.Length;

        /// <summary>Counts a bucket once: buckets are fixed cuts of the shard, so a resent one has the same start.</summary>
        public void Mark(long start, int length)
        {
            if (_starts.Add(start))
            {
                _received += length;
            }
        }
    }
}
