using TorchSharp;
using UNetCluster.Data.Augmentation;
using UNetCluster.Data.Tiling;
using UNetCluster.Model.Losses;
using UNetCluster.Model.Modules;
using UNetCluster.Model.Optimization;
using static TorchSharp.torch;

namespace UNetCluster.Model.Training;

/// <summary>The result of one replica's forward and backward pass over its tiles of a step.</summary>
/// <param name="Gradient">Flat gradient (mean over this replica's tiles), in state-dict parameter order. It is the
/// engine's buffer: valid until the engine's next <see cref="GradientEngine.ComputeGradient"/>, owned by the engine.</param>
/// <param name="Loss">Mean loss over this replica's tiles.</param>
/// <param name="Samples">Number of tiles.</param>
public sealed record GradientResult(Tensor Gradient, double Loss, int Samples);

/// <summary>
/// One model replica and the training sections it draws tiles from: computes the gradient of a step for a given
/// set of global tile indexes, and takes new parameters. The tile with global index i at step s is drawn with seed
/// <c>DeriveSeed(jobSeed, s, i)</c>, its section chosen by that seed: W replicas computing tiles
/// {w*b .. w*b+b-1} and averaging (weighted by samples) give one process's gradient over tiles {0 .. W*b-1}.
/// This is the unit of work a worker runs outside any grain turn.
/// </summary>
public sealed class GradientEngine : IDisposable
{
    private readonly TrainingOptions _options;
    private readonly IReadOnlyList<SectionTensors> _sections;
    private readonly TileSampler _sampler;
    private readonly List<TorchSharp.Modules.Parameter> _parameters;          // the master weights: fp32, on the host
    private readonly UNet _compute;                                            // the model a step runs: Model itself, or its copy on the device and in the precision
    private readonly List<TorchSharp.Modules.Parameter> _computeParameters;   // _compute's parameters, in the same order
    private readonly Tensor _gradient;                                         // the flat gradient on the host, fp32
    private readonly Tensor? _deviceGradient;                                  // the flat gradient gathered on the device (fp32) before its copy to the host; null on the CPU
    private readonly Tensor? _hostWeights;                                     // the master weights gathered on the host (fp32, pinned) for one copy to the device; null on the CPU
    private readonly Tensor? _deviceWeights;                                   // ... and on the device, where the compute model's weights are cast from; null on the CPU
    private readonly long[] _parameterOffsets;     // each parameter's offset in the flat vector
    private readonly GradientStages _stages;          // reports stages whose gradient is final during a backward pass
    private readonly int[] _stageFirstParameter;   // each stage's first parameter index (UNet.StageParameterOffsets)

    /// <summary>Serialises seeding and building a replica: libtorch's default generator is shared by the process.</summary>
    private static readonly Lock InitialWeightsLock = new();

    /// <param name="device">Where forward and backward run (null for the CPU); the master weights and the flat gradient stay on the host.</param>
    public GradientEngine(TrainingOptions options, IReadOnlyList<SectionTensors> sections, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(sections);
        if (sections.Count == 0)
        {
            throw new ArgumentException("There are no training sections to draw tiles from.", nameof(sections));
        }

        _options = options.Validate();
        _sections = sections;
        Device = device ?? CPU;
        ComputeType = options.Precision.ScalarType();
        var separate = Device.type != DeviceType.CPU || ComputeType != ScalarType.Float32;
        lock (InitialWeightsLock)                      // the RNG is process-wide: in-process silos build replicas at once
        {
            var compute = separate ? new UNet(options.Model) : null;   // its values come from Model before each step; built first, so the RNG after the seed is the same as without it
            manual_seed(options.Seed);                // the initial weights are a function of the seed (drawn on the host, the same on every device)
            Model = new UNet(options.Model);
            _compute = compute ?? Model;
        }

        if (separate)
        {
            _compute.to(ComputeType).to(Device);
        }

        _parameters = Model.parameters().ToList();
        _computeParameters = _compute.parameters().ToList();
        _parameterOffsets = [.. _parameters.Select(p => p.numel()).Prepend(0L).Take(_parameters.Count)];
        for (var i = 1; i < _parameterOffsets.Length; i++)
        {
            _parameterOffsets[i] += _parameterOffsets[i - 1];
        }

        // A stage's first parameter index: stages start at parameter boundaries of the same flat order.
        _stageFirstParameter = [.. Model.StageParameterOffsets.SkipLast(1).Select(o => Array.IndexOf(_parameterOffsets, o))];
        _stages = new GradientStages(_compute);
        var onHost = Device.type == DeviceType.CPU;
        _gradient = Pinned(zeros(ParameterVector.Length(_parameters)), onHost);
        _deviceGradient = onHost ? null : zeros(_gradient.numel(), device: Device).DetachFromDisposeScope();
        _hostWeights = onHost ? null : Pinned(zeros(_gradient.numel()), onHost);
        _deviceWeights = onHost ? null : zeros(_gradient.numel(), device: Device).DetachFromDisposeScope();
        var output = TileGeometry.RequireValid(options.Model, options.TileSize, "--tile");
        _sampler = new TileSampler(
            new TileSamplerOptions { InputSize = options.TileSize, OutputSize = output, Oversample = options.Oversample },
            new Augmenter(options.Augmentation));
    }

    /// <summary>
    /// The master weights, fp32 on the host: what checkpoints save and load and what <see cref="AssignParameters"/>
    /// changes. A step first copies them into the model it runs (<see cref="Device"/>, <see cref="ComputeType"/>).
    /// </summary>
    public UNet Model { get; }

    /// <summary>Where a step's model, tiles, weight maps, logits and loss live.</summary>
    public Device Device { get; }

    /// <summary>Where and in what a step computes, as status and logs show it: "cpu bf16", "cuda:0 fp32".</summary>
    public string Describe() => $"{ComputeDevice.NameOf(Device)} {(ComputeType == ScalarType.BFloat16 ? "bf16" : "fp32")}";

    /// <summary>The number format of a step's weights, activations and parameter gradients (<see cref="TrainingOptions.Precision"/>).</summary>
    public ScalarType ComputeType { get; }

    /// <summary>
    /// The engine's device seam, for tests: when set, a step calls it with each tensor it places or makes, by name
    /// ("images", "masks", "weights", "logits", "loss", "parameter", "gradient"), before the backward pass for the
    /// inputs and after it for the gradients.
    /// </summary>
    public Action<string, Tensor>? StepTensors { get; set; }

    public long ParameterCount => ParameterVector.Length(_parameters);

    /// <summary>The current parameters as a new flat vector.</summary>
    public Tensor FlattenParameters() => ParameterVector.Flatten(_parameters);

    /// <summary>Replaces the replica's parameters with a flat vector.</summary>
    public void AssignParameters(Tensor flat) => ParameterVector.Assign(_parameters, flat);

    /// <summary>The seed of global tile <paramref name="tileIndex"/> at <paramref name="step"/>.</summary>
    public static long TileSeed(long jobSeed, long step, long tileIndex) => TileSampler.DeriveSeed(jobSeed, step, tileIndex);

    /// <summary>
    /// The training section (an index among <paramref name="sections"/>) that global tile <paramref name="tileIndex"/>
    /// of <paramref name="step"/> is drawn from: a worker knows before a step which sections its tiles need.
    /// </summary>
    public static int SectionOf(long jobSeed, long step, long tileIndex, int sections)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sections);
        return (int)((ulong)TileSampler.DeriveSeed(TileSeed(jobSeed, step, tileIndex), 7) % (ulong)sections);
    }

    /// <summary>The training sections the given global tiles of a step are drawn from, in tile order (repeats kept).</summary>
    public IReadOnlyList<int> SectionsOf(long step, IReadOnlyList<long> tileIndexes)
    {
        ArgumentNullException.ThrowIfNull(tileIndexes);
        return [.. tileIndexes.Select(t => SectionOf(_options.Seed, step, t, _sections.Count))];
    }

    /// <summary>Forward and backward over the given global tile indexes of a step; leaves the weights unchanged.</summary>
    public GradientResult ComputeGradient(long step, IReadOnlyList<long> tileIndexes, CancellationToken cancellationToken = default) =>
        ComputeGradient(step, tileIndexes, null, cancellationToken);

    /// <summary>
    /// Forward and backward over the given global tile indexes of a step; leaves the weights unchanged. With
    /// <paramref name="gradientReady"/>, the flat gradient is filled in while the backward pass runs, from the head
    /// towards the input, and <paramref name="gradientReady"/>(o) is called on this thread each time its values from
    /// flat offset o to the end are final (the last call, after the backward pass, with 0; see
    /// <see cref="GradientStages.StagesComplete"/>); the values are the same either way.
    /// </summary>
    public GradientResult ComputeGradient(long step, IReadOnlyList<long> tileIndexes, Action<long>? gradientReady, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tileIndexes);
        if (tileIndexes.Count == 0)
        {
            throw new ArgumentException("A step needs at least one tile.", nameof(tileIndexes));
        }

        cancellationToken.ThrowIfCancellationRequested();
        using var scope = NewDisposeScope();
        RefreshComputeWeights();
        _compute.train();
        _compute.zero_grad();
        var images = new List<Tensor>();
        var masks = new List<Tensor>();
        var weights = new List<Tensor>();
        foreach (var index in tileIndexes)
        {
            var seed = TileSeed(_options.Seed, step, index);
            var section = _sections[SectionOf(_options.Seed, step, index, _sections.Count)];
            var tile = _sampler.Sample(section.Image, section.Mask, section.Weights, seed, _options.Oversample > 0 ? section.Focus : null);
            images.Add(tile.Image);
            masks.Add(tile.Mask);
            weights.Add(tile.Weights);
        }

        var copiedFrom = _parameters.Count;   // the parameters from this index on are copied into _gradient
        void CopyFrom(int parameter)
        {
            if (parameter < copiedFrom)
            {
                CopyGradients(parameter, copiedFrom);
                copiedFrom = parameter;
                gradientReady?.Invoke(_parameterOffsets[parameter]);
            }
        }

        _stages.StagesComplete = gradientReady is null ? null : stage => CopyFrom(_stageFirstParameter[stage]);
        try
        {
            var input = stack(images).to(ComputeType, Device);                                   // (B, C, in, in)
            var target = stack(masks).to(Device);                                                 // (B, out, out)
            var weightMap = stack(weights).to(Device);                                            // (B, out, out)
            var logits = _compute.call(input).to(ScalarType.Float32);                             // (B, K, out, out); the loss and its softmax in fp32
            var loss = SegmentationLoss.Compute(_options.Loss, logits, target, weightMap);
            if (StepTensors is { } seen)
            {
                seen("images", input);
                seen("masks", target);
                seen("weights", weightMap);
                seen("logits", logits);
                seen("loss", loss);
            }

            loss.backward();
            CopyFrom(0);
            if (StepTensors is { } after)
            {
                foreach (var parameter in _computeParameters)
                {
                    after("parameter", parameter);
                    after("gradient", parameter.grad!);
                }
            }

            return new GradientResult(_gradient, loss.item<float>(), tileIndexes.Count);
        }
        finally
        {
            _stages.StagesComplete = null;
        }
    }

    /// <summary>
    /// Copies the master weights into the model a step runs, cast to its precision, when that is a separate copy: on the
    /// CPU parameter by parameter; on another device gathered into one pinned host vector first, so they cross to the
    /// device in one copy, and cast there parameter by parameter.
    /// </summary>
    private void RefreshComputeWeights()
    {
        if (ReferenceEquals(_compute, Model))
        {
            return;
        }

        if (_hostWeights is not null && _deviceWeights is not null)
        {
            ParameterVector.CopyValues(_parameters, _hostWeights);
            _deviceWeights.copy_(_hostWeights);
            ParameterVector.Assign(_computeParameters, _deviceWeights);
            return;
        }

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var (master, compute) in _parameters.Zip(_computeParameters))
        {
            compute.copy_(master);
        }
    }

    /// <summary>
    /// Copies the gradients of compute parameters [<paramref name="first"/>, <paramref name="end"/>) into the host's
    /// fp32 flat gradient: straight (and cast) on the CPU; on another device gathered there first, then one copy to the host.
    /// </summary>
    private void CopyGradients(int first, int end)
    {
        if (_deviceGradient is null)
        {
            ParameterVector.CopyGradients(_computeParameters, _gradient, first, end);
            return;
        }

        ParameterVector.CopyGradients(_computeParameters, _deviceGradient, first, end);
        using var scope = NewDisposeScope();
        var offset = _parameterOffsets[first];
        var length = (end < _parameterOffsets.Length ? _parameterOffsets[end] : _gradient.numel()) - offset;
        _gradient.narrow(0, offset, length).copy_(_deviceGradient.narrow(0, offset, length));
    }

    /// <summary>The engine's flat gradient buffer (see <see cref="GradientResult.Gradient"/>).</summary>
    public Tensor Gradient => _gradient;

    /// <summary>
    /// True when every value of a flat gradient is finite: NaN and infinity propagate into the sum, which avoids a
    /// mask as large as the model (a finite gradient whose sum overflows is reported too, and has diverged anyway).
    /// </summary>
    public static bool IsFinite(Tensor gradient)
    {
        ArgumentNullException.ThrowIfNull(gradient);
        using var sum = gradient.sum();
        return double.IsFinite(sum.item<float>());
    }

    /// <summary>
    /// A host buffer that crosses to or from a device: in page-locked memory when there is a device (its copies need no
    /// staging through a pageable bounce buffer), as it is on the CPU (pinning needs a CUDA runtime).
    /// </summary>
    private static Tensor Pinned(Tensor buffer, bool onHost)
    {
        if (onHost)
        {
            return buffer.DetachFromDisposeScope();
        }

        var pinned = buffer.pin_memory().DetachFromDisposeScope();
        buffer.Dispose();
        return pinned;
    }

    public void Dispose()
    {
        _gradient.Dispose();
        _deviceGradient?.Dispose();
        _hostWeights?.Dispose();
        _deviceWeights?.Dispose();
        if (!ReferenceEquals(_compute, Model))
        {
            _compute.Dispose();
        }

        Model.Dispose();
    }
}
