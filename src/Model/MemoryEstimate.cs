namespace UNetCluster.Model;

/// <summary>
/// Estimates of the memory a U-Net pass needs, from its layer plan and tile size alone, so that a tile or a job that
/// cannot fit is refused with a reason before a process allocates it (and is killed for it). The feature maps
/// dominate: every convolution, pooling, up-sampling and concatenation output of one tile, in float32, all alive at
/// the peak (autograd keeps them for the backward pass; inference keeps them in its dispose scope until the batch
/// ends). Estimates, not measurements: meant to be within a small factor and never far below the truth.
/// </summary>
public static class MemoryEstimate
{
    private const long FloatBytes = 4;

    /// <summary>Backward holds a gradient beside each kept activation, and ReLU outputs are kept beside their inputs.</summary>
    private const long TrainingActivationFactor = 3;

    /// <summary>Weights, their gradient, two optimizer moments and the flat parameter and gradient vectors.</summary>
    private const long TrainingParameterCopies = 6;

    /// <summary>Bytes of overlap-tile inference on a batch of <paramref name="batch"/> tiles of side <paramref name="tileSize"/>.</summary>
    public static long InferenceBytes(UNetOptions options, int tileSize, int batch) =>
        checked(FeatureMapElements(options, tileSize) * batch * FloatBytes + Parameters(options) * FloatBytes);

    /// <summary>Peak bytes of one training step of a worker: forward and backward on <paramref name="batch"/> tiles, with the optimizer.</summary>
    public static long TrainingStepBytes(UNetOptions options, int tileSize, int batch) =>
        checked(FeatureMapElements(options, tileSize) * batch * FloatBytes * TrainingActivationFactor +
                Parameters(options) * FloatBytes * TrainingParameterCopies);

    /// <summary>Bytes this process may use: the physical memory or the container's limit, as the runtime sees it.</summary>
    public static long AvailableBytes() => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

    /// <summary>"1.5 GiB": a size as a person reads it.</summary>
    public static string Describe(long bytes) => bytes switch
    {
        >= 1L << 30 => FormattableString.Invariant($"{bytes / (double)(1L << 30):0.#} GiB"),
        >= 1L << 20 => FormattableString.Invariant($"{bytes / (double)(1L << 20):0.#} MiB"),
        _ => FormattableString.Invariant($"{bytes / 1024.0:0.#} KiB"),
    };

    /// <summary>Elements of every feature map one tile produces on its way through the network.</summary>
    public static long FeatureMapElements(UNetOptions options, int tileSize)
    {
        ArgumentNullException.ThrowIfNull(options);
        var shrink = options.Padding == ConvPadding.Valid ? 2L : 0L;
        long total = 0;
        long Map(long channels, long side) => channels * side * side;
        long Channels(int level) => (long)options.BaseChannels << level;

        // Contracting path: two 3x3 convolutions per level, then a 2x2 max-pool (input + conv outputs + pool output).
        long size = tileSize;
        total += Map(options.InputChannels, size);
        var skips = new long[options.Depth + 1];
        for (var level = 0; level <= options.Depth; level++)
        {
            size -= shrink;
            total += Map(Channels(level), size);
            size -= shrink;
            total += Map(Channels(level), size);
            skips[level] = size;
            if (level < options.Depth)
            {
                size /= 2;
                total += Map(Channels(level), size);
            }
        }

        // Expanding path: up-sampling to the level below, the cropped skip, their concatenation, two convolutions.
        for (var level = options.Depth - 1; level >= 0; level--)
        {
            size *= 2;
            total += Map(Channels(level), size) * 3;        // up-sampled, cropped skip, concatenation (twice the channels, counted as two)
            size -= shrink;
            total += Map(Channels(level), size);
            size -= shrink;
            total += Map(Channels(level), size);
        }

        return checked(total + Map(options.Classes, size) * 2);   // logits and their softmax
    }

    /// <summary>Parameters of the layer plan (weights and biases of every convolution).</summary>
    public static long Parameters(UNetOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        long Conv(long input, long output, long kernel) => (input * output * kernel * kernel) + output;
        long DoubleConv(long input, long output) => Conv(input, output, 3) + Conv(output, output, 3);
        long Channels(int level) => (long)options.BaseChannels << level;

        var total = DoubleConv(options.InputChannels, Channels(0));
        for (var level = 1; level <= options.Depth; level++)
        {
            total += DoubleConv(Channels(level - 1), Channels(level));
        }

        for (var level = options.Depth; level >= 1; level--)
        {
            var upKernel = options.UpSampling == UpSampling.Transposed ? 2 : 3;
            total += Conv(Channels(level), Channels(level - 1), upKernel) + DoubleConv(Channels(level - 1) * 2, Channels(level - 1));
        }

        return total + Conv(Channels(0), options.Classes, 1);
    }
}
