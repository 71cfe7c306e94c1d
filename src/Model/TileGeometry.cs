namespace UNetCluster.Model;

/// <summary>
/// Which tile sizes a U-Net layer plan accepts and what it returns for them. With valid (unpadded) convolutions
/// every 3x3 convolution removes 2 pixels and every 2x2 max-pool needs an even size, so only some input sizes
/// work: for the paper's depth 4 they are 16k + 124 (k >= 1), e.g. 572 -> 388. With same padding the input must
/// be divisible by 2^depth and the output has the input's size.
/// </summary>
public static class TileGeometry
{
    /// <summary>The output size for an input size, or null when the plan cannot take that size.</summary>
    public static int? OutputSize(UNetOptions options, int inputSize)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (inputSize < 1)
        {
            return null;
        }

        if (options.Padding == ConvPadding.Same)
        {
            return inputSize % (1 << options.Depth) == 0 ? inputSize : null;
        }

        var size = inputSize;
        for (var level = 0; level < options.Depth; level++)
        {
            size -= 4; // two unpadded 3x3 convolutions
            if (size < 2 || size % 2 != 0)
            {
                return null; // the 2x2 max-pool needs an even size of at least 2
            }

            size /= 2;
        }

        size -= 4; // the bottom level's convolutions
        if (size < 1)
        {
            return null;
        }

        for (var level = 0; level < options.Depth; level++)
        {
            size = size * 2 - 4; // up-convolution doubles, two unpadded convolutions remove 4
            if (size < 1)
            {
                return null;
            }
        }

        return size;
    }

    /// <summary>True when <paramref name="inputSize"/> is a tile size the plan accepts.</summary>
    public static bool IsValidInputSize(UNetOptions options, int inputSize) => OutputSize(options, inputSize) is not null;

    /// <summary>The smallest input size the plan accepts.</summary>
    public static int MinimumInputSize(UNetOptions options)
    {
        for (var size = 1; ; size++)
        {
            if (IsValidInputSize(options, size))
            {
                return size;
            }
        }
    }

    /// <summary>
    /// The largest tile side accepted. An 8192x8192 tile's first feature map alone is 16 GiB of float32 at the paper's
    /// 64 channels: anything larger is a typo, and stopping here keeps the search for valid sizes short and
    /// overflow-free (a scan up from int.MaxValue used to wrap around to negative sizes).
    /// </summary>
    public const int MaximumInputSize = 8192;

    /// <summary>
    /// The nearest valid input sizes at or below and at or above a requested size, both within
    /// [1, <see cref="MaximumInputSize"/>]: Below is null when no valid size is at or below the request, Above when
    /// none is at or above it up to the maximum (so a request above the maximum gets only the largest valid size).
    /// </summary>
    public static (int? Below, int? Above) NearestValidInputSizes(UNetOptions options, int requested)
    {
        ArgumentNullException.ThrowIfNull(options);
        int? below = null;
        for (var size = Math.Min(requested, MaximumInputSize); size >= 1; size--)
        {
            if (IsValidInputSize(options, size))
            {
                below = size;
                break;
            }
        }

        int? above = null;
        for (var size = Math.Max(requested, 1); size <= MaximumInputSize; size++)
        {
            if (IsValidInputSize(options, size))
            {
                above = size;
                break;
            }
        }

        return (below, above);
    }

    /// <summary>
    /// The largest valid input size, at most <see cref="MaximumInputSize"/>, whose output is at most
    /// <paramref name="outputSize"/> pixels: the largest training tile whose output window fits a section of that side.
    /// Null when even the smallest valid tile's output is larger.
    /// </summary>
    public static int? LargestInputSizeForOutput(UNetOptions options, long outputSize)
    {
        ArgumentNullException.ThrowIfNull(options);
        for (var size = MaximumInputSize; size >= 1; size--)
        {
            if (OutputSize(options, size) is { } output && output <= outputSize)
            {
                return size;
            }
        }

        return null;
    }

    /// <summary>
    /// Returns the output size for a tile size, or throws an <see cref="ArgumentException"/> that names the
    /// nearest valid sizes (a size above <see cref="MaximumInputSize"/> is refused whether or not the plan takes it).
    /// </summary>
    public static int RequireValid(UNetOptions options, int inputSize, string optionName = "tile size")
    {
        ArgumentNullException.ThrowIfNull(options);
        if (inputSize <= MaximumInputSize && OutputSize(options, inputSize) is { } output)
        {
            return output;
        }

        var (below, above) = NearestValidInputSizes(options, inputSize);
        var nearest = (below, above) switch
        {
            ({ } b, { } a) when a != b => $"sizes: {b} or {a}",
            ({ } b, _) => $"size: {b}",
            (_, { } a) => $"size: {a}",
            _ => $"size: none up to {MaximumInputSize}",
        };
        var rule = options.Padding == ConvPadding.Same
            ? $"a multiple of {1 << options.Depth}"
            : $"a size whose unpadded convolutions and 2x2 poolings stay even down {options.Depth} levels";
        throw new ArgumentException(
            $"The {optionName} {inputSize} is not valid for this U-Net (depth {options.Depth}, {options.Padding.ToString().ToLowerInvariant()} padding): " +
            $"it must be {rule}, and at most {MaximumInputSize}. Nearest valid {nearest}.",
            optionName);
    }
}
