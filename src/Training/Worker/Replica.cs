using System.Runtime.InteropServices;
using UNetCluster.Contracts.Jobs;
using UNetCluster.Contracts.Messages;
using UNetCluster.Data.DataSets;
using UNetCluster.Model.Distributed;
using UNetCluster.Model.Optimization;
using UNetCluster.Model.Training;
using UNetCluster.Training.Jobs;
using static TorchSharp.torch;

namespace UNetCluster.Training.Worker;

/// <summary>
/// A silo's copy of a job's model and training data: the gradient engine, the flat parameters as float32 values,
/// and the version (steps applied) those parameters are at; -1 when unknown (a new replica must pull them). A bf16 job's
/// buckets travel as bf16 (<see cref="Wire"/>): its gradient messages are bf16, and the parameters it pulls for a step
/// are the bf16 rounding of the reducers' fp32 masters (<see cref="ParametersExact"/> false), which is exactly what its
/// bf16 step computes from; a checkpoint or a validation first pulls the fp32 masters. The
/// training sections of a local data set are all made ready at once; those of a stored data set are fetched and made
/// ready before the step whose tiles are first drawn from them (<see cref="PrepareAsync"/>).
/// </summary>
public sealed class Replica : IDisposable
{
    private readonly DataSetSections _data;
    private readonly int[] _training;              // data-set section index of each training section
    private readonly SectionTensors?[] _tensors;   // by training section; null until a step needs it
    private Tensor? _flat;                         // the parameters on their way into the model
    private byte[][]? _buckets;                    // the gradient's messages, refilled each step
    private (int Shards, int BucketBytes, IReadOnlyList<ShardBucket> Buckets)? _layout;   // the last layout asked for

    /// <param name="device">Where the engine computes (null for the CPU); <see cref="Parameters"/> and the gradient's messages stay on the host.</param>
    public Replica(JobSpec spec, TrainingOptions options, DataSetSections data, Device? device = null)
    {
        Spec = spec;
        Options = options;
        _data = data;
        _training = TrainingData.TrainingIndexes(data.Count, options.ValidationSections);
        _tensors = new SectionTensors?[_training.Length];
        if (data.IsLocal)
        {
            for (var k = 0; k < _training.Length; k++)
            {
                _tensors[k] = TrainingData.Tensors(data[_training[k]], options.WeightMap, options.Model.Classes, options.BorderClass, options.Normalisation, options.BorderWidth, options.BorderKind);
            }
        }

        Engine = new GradientEngine(options, new ReadySections(_tensors), device);
        Parameters = new float[Engine.ParameterCount];
        using var flat = Engine.FlattenParameters();
        ParameterVector.CopyTo(flat, Parameters);
    }

    public JobSpec Spec { get; }

    public TrainingOptions Options { get; }

    public GradientEngine Engine { get; }

    /// <summary>The replica's parameters; after changing them, call <see cref="AssignParameters"/>.</summary>
    public float[] Parameters { get; }

    public long Version { get; set; } = -1;

    /// <summary>How this job's gradient and parameter buckets travel (<see cref="WireOf"/>).</summary>
    public WireFormat Wire => WireOf(Options.Precision);

    /// <summary>How a job's gradient and parameter buckets travel: bf16 for a bf16 job, float32 otherwise.</summary>
    public static WireFormat WireOf(Precision precision) => precision == Precision.Bf16 ? WireFormat.Bf16 : WireFormat.Fp32;

    /// <summary>
    /// True when <see cref="Parameters"/> hold the fp32 masters of <see cref="Version"/>; false when they hold their bf16
    /// rounding (pulled as <see cref="WireFormat.Bf16"/>): enough to compute a bf16 step, not to checkpoint or validate.
    /// </summary>
    public bool ParametersExact { get; set; } = true;

    public long ParameterCount => Parameters.Length;

    /// <summary>The buckets of this replica's flat vector over <paramref name="shards"/> reducers (<see cref="ParameterShards.Layout"/>), kept while they stay the same.</summary>
    public IReadOnlyList<ShardBucket> Layout(int shards, int bucketBytes)
    {
        if (_layout is not { } kept || kept.Shards != shards || kept.BucketBytes != bucketBytes)
        {
            kept = (shards, bucketBytes, ParameterShards.Layout(ParameterCount, shards, bucketBytes));
            _layout = kept;
        }

        return kept.Buckets;
    }

    /// <summary>Copies <see cref="Parameters"/> into the model (through a flat tensor kept across steps: a fresh 124 MB one is page-faulted in each time).</summary>
    public void AssignParameters()
    {
        _flat ??= empty(Parameters.Length, dtype: ScalarType.Float32).DetachFromDisposeScope();
        MemoryMarshal.AsBytes(Parameters.AsSpan()).CopyTo(_flat.bytes);
        Engine.AssignParameters(_flat);
    }

    /// <summary>
    /// A step's forward and backward pass (on the torch thread), streaming the gradient: with
    /// <paramref name="duringBackward"/>, each bucket of the flat gradient is copied into its message as soon as the
    /// backward pass has made its values final (otherwise all of them after it; see
    /// <see cref="GradientEngine.ComputeGradient(long, IReadOnlyList{long}, Action{long}, CancellationToken)"/>), checked
    /// for NaN and infinity, and handed to <paramref name="bucketReady"/> by its index in <paramref name="layout"/>
    /// (ascending offsets; the last bucket comes first). The first bucket that is not finite stops the handing out, and
    /// the result says so. The messages are <see cref="GradientMessages"/>, kept and refilled at the next step: a step's
    /// sends have all completed (serialised, or copied by a reducer on this silo) before the next step computes.
    /// </summary>
    public (double Loss, int Samples, bool Finite) ComputeGradient(
        long step, IReadOnlyList<long> tiles, IReadOnlyList<ShardBucket> layout, bool duringBackward, Action<int> bucketReady, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(bucketReady);
        var size = Wire.BytesPerValue();
        if (_buckets is null || _buckets.Length != layout.Count || _buckets.Where((b, i) => b.Length != layout[i].Range.Length * size).Any())
        {
            _buckets = [.. layout.Select(b => GC.AllocateUninitializedArray<byte>(checked((int)b.Range.Length * size)))];
        }

        var bf16 = Wire == WireFormat.Bf16;
        var messages = _buckets;
        var gradient = Engine.Gradient;
        var next = layout.Count;    // the buckets from this index on are handed out
        var finite = true;
        void Final(long offset)
        {
            while (finite && next > 0 && layout[next - 1].Range.Offset >= offset)
            {
                next--;
                var values = MemoryMarshal.Cast<byte, float>(gradient.bytes).Slice(checked((int)layout[next].Range.Offset), checked((int)layout[next].Range.Length));
                finite = FiniteValues.All(values);
                BFloat16Values.Encode(values, messages[next], bf16);   // in bf16 exact: a bf16 backward pass's gradient holds bf16 values

                if (finite)
                {
                    bucketReady(next);
                }
            }
        }

        var result = Engine.ComputeGradient(step, tiles, duringBackward ? Final : null, cancellationToken);
        Final(0);   // all of it, when not handed out during the backward pass
        return (result.Loss, result.Samples, finite && double.IsFinite(result.Loss));
    }

    /// <summary>The gradient's messages of the last <see cref="ComputeGradient"/>, by bucket index.</summary>
    public IReadOnlyList<byte[]> GradientMessages => _buckets ?? [];

    /// <summary>Refreshes <see cref="Parameters"/> from the model (after loading a state dict).</summary>
    public void ReadParameters()
    {
        using var flat = Engine.FlattenParameters();
        ParameterVector.CopyTo(flat, Parameters);
        ParametersExact = true;
    }

    /// <summary>The training sections this replica holds (fetched, for a stored data set) out of all of them.</summary>
    public (int Ready, int Training) Sections => (_tensors.Count(t => t is not null), _tensors.Length);

    /// <summary>
    /// Makes ready the training sections that the given tiles of a step are drawn from: a stored data set's items are
    /// fetched (verified) off the torch thread, their tensors and weight maps built on it.
    /// </summary>
    public async Task PrepareAsync(long step, IReadOnlyList<long> tiles, TorchThread torch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(torch);
        foreach (var k in Engine.SectionsOf(step, tiles))
        {
            if (_tensors[k] is null)
            {
                var section = await _data.GetAsync(_training[k], cancellationToken).ConfigureAwait(false);
                _tensors[k] = await torch.RunAsync(() => TrainingData.Tensors(section, Options.WeightMap, Options.Model.Classes, Options.BorderClass, Options.Normalisation, Options.BorderWidth, Options.BorderKind)).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// The validation sections at positions <paramref name="workerIndex"/>, <paramref name="workerIndex"/> +
    /// <paramref name="workers"/>, ... of the job's validation split (fetched and verified when the set is stored).
    /// </summary>
    public async Task<IReadOnlyList<LabelledSection>> ValidationShareAsync(int workerIndex, int workers, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(workers);
        var held = TrainingData.ValidationIndexes(_data.Count, Options.ValidationSections).Order().ToList();
        var share = new List<LabelledSection>();
        for (var position = workerIndex; position < held.Count; position += workers)
        {
            share.Add(await _data.GetAsync(held[position], cancellationToken).ConfigureAwait(false));
        }

        return share;
    }

    public void Dispose()
    {
        Engine.Dispose();
        _flat?.Dispose();
        foreach (var section in _tensors)
        {
            section?.Dispose();
        }
    }
}

/// <summary>The training sections as the gradient engine sees them; one that is not ready yet is a bug in the caller.</summary>
internal sealed class ReadySections(SectionTensors?[] sections) : IReadOnlyList<SectionTensors>
{
    public int Count => sections.Length;

    public SectionTensors this[int index] =>
        sections[index] ?? throw new InvalidOperationException($"Training section {index} was not made ready before the step that draws from it.");

    public IEnumerator<SectionTensors> GetEnumerator() => sections.Select((_, i) => this[i]).GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
