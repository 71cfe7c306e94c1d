using TorchSharp;
using UNetCluster.Data.Augmentation;
using UNetCluster.Data.Randomness;
using static TorchSharp.torch;

namespace UNetCluster.Data.Tiling;

/// <summary>
/// Draws random training tiles from a section (a whole image with its mask and weight map). The output window is
/// placed uniformly at random among the positions where it lies inside the section; the input window around it is
/// cut from the section, mirrored where it leaves the section (<see cref="MirrorPadding"/>). The image, mask and
/// weights of the input window are augmented together, when an <see cref="Augmenter"/> is given, and only then are
/// the mask and weights cropped to the output window, so that labels stay aligned with the deformed image.
/// </summary>
/// <remarks>
/// Everything is a function of the seed passed to <see cref="Sample"/>: the window from one derived stream, the
/// augmentation from another (see <see cref="DeriveSeed"/>). Give each tile its own seed, derived from the job seed
/// and the tile's coordinates in the run, for example <c>DeriveSeed(jobSeed, step, shard, index)</c>; a replayed
/// step then draws the same tiles on any worker.
/// </remarks>
public sealed class TileSampler
{
    private const long WindowStream = 0;
    private const long AugmentationStream = 1;
    private const long FocusStream = 2;

    private readonly TileSamplerOptions _options;
    private readonly Augmenter? _augmenter;

    /// <param name="options">Tile geometry.</param>
    /// <param name="augmenter">Augmentation applied to every tile; <c>null</c> for tiles exactly as cut.</param>
    public TileSampler(TileSamplerOptions options, Augmenter? augmenter = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _augmenter = augmenter;
    }

    public TileSamplerOptions Options => _options;

    /// <summary>
    /// Mixes a job seed with any number of parts (step, shard, tile index, ...) into a new seed, SplitMix64-style:
    /// <c>h = Mix(jobSeed + γ)</c>, then for each part <c>h = Mix((h ^ Mix(part + γ)) + γ)</c>, where γ =
    /// 0x9E3779B97F4A7C15 and Mix is SplitMix64's finaliser (xor-shift 30, multiply by 0xBF58476D1CE4E5B9,
    /// xor-shift 27, multiply by 0x94D049BB133111EB, xor-shift 31), all modulo 2^64. Order matters
    /// ((1, 2) and (2, 1) give different seeds), and the result is the same on every platform. Checkpoints record
    /// seeds, so this function is frozen: a test pins its values.
    /// </summary>
    public static long DeriveSeed(long jobSeed, params long[] parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        return SplitMix64.Derive(jobSeed, parts);
    }

    /// <summary>
    /// The output window <see cref="Sample"/> uses for <paramref name="seed"/> in a section of this size. With
    /// <see cref="TileSamplerOptions.Oversample"/> above 0 and <paramref name="focus"/> pixels given, that share of the
    /// tiles (decided by a stream of the seed of its own) is placed around one of them: a focus pixel drawn uniformly,
    /// and the window drawn uniformly among the valid positions that hold it. The other tiles, and every tile without
    /// focus pixels, are placed as with no oversampling, so oversampling 0 draws exactly the windows it always did.
    /// </summary>
    /// <param name="focus">Flat pixel indexes (<c>y * width + x</c>) to oversample (<see cref="FocusPixels"/>), or null.</param>
    public TileWindow DrawWindow(long seed, long sectionHeight, long sectionWidth, IReadOnlyList<int>? focus = null)
    {
        if (sectionHeight < _options.OutputSize || sectionWidth < _options.OutputSize)
        {
            throw new ArgumentException(
                $"The section ({sectionHeight} x {sectionWidth}) is smaller than the output window " +
                $"({_options.OutputSize} x {_options.OutputSize}); use a smaller {nameof(TileSamplerOptions.OutputSize)}.");
        }

        if (_options.Oversample > 0 && focus is { Count: > 0 })
        {
            var draw = new SplitMix64(DeriveSeed(seed, FocusStream));
            if (draw.NextDouble() < _options.Oversample)
            {
                var pixel = focus[draw.NextInt(focus.Count)];
                if (pixel < 0 || pixel >= sectionHeight * sectionWidth)
                {
                    throw new ArgumentOutOfRangeException(nameof(focus), pixel, $"A focus pixel lies outside the {sectionHeight} x {sectionWidth} section.");
                }

                return new TileWindow(
                    Around(pixel / sectionWidth, sectionHeight, draw),
                    Around(pixel % sectionWidth, sectionWidth, draw));
            }
        }

        var random = new SplitMix64(DeriveSeed(seed, WindowStream));
        var top = random.NextInt(checked((int)(sectionHeight - _options.OutputSize + 1)));
        var left = random.NextInt(checked((int)(sectionWidth - _options.OutputSize + 1)));
        return new TileWindow(top, left);
    }

    /// <summary>A window start, uniform among those in [0, length - size] whose window holds <paramref name="position"/>.</summary>
    private int Around(long position, long length, SplitMix64 draw)
    {
        var first = Math.Max(0, position - _options.OutputSize + 1);
        var last = Math.Min(position, length - _options.OutputSize);
        return checked((int)(first + draw.NextInt(checked((int)(last - first + 1)))));
    }

    /// <summary>The most focus pixels <see cref="FocusPixels"/> keeps of a section, evenly spread over the class's pixels in row order (256 KiB).</summary>
    public const int MaxFocusPixels = 65_536;

    /// <summary>
    /// The pixels a tile is placed around when oversampling: those of the rarest class of <paramref name="mask"/>
    /// (class indexes, row-major) other than class 0, the background; ties go to the higher class. In a three-class
    /// nuclei target that is the border between touching nuclei where the section has any, else the nuclei; in a
    /// binary mask the foreground. Empty when the mask holds background only. A class of more than
    /// <see cref="MaxFocusPixels"/> pixels is represented by that many of them, evenly spaced in row order.
    /// </summary>
    public static int[] FocusPixels(ReadOnlySpan<long> mask)
    {
        var counts = new Dictionary<long, int>();
        foreach (var value in mask)
        {
            if (value != 0)
            {
                counts[value] = counts.GetValueOrDefault(value) + 1;
            }
        }

        if (counts.Count == 0)
        {
            return [];
        }

        var rarest = counts.OrderBy(c => c.Value).ThenByDescending(c => c.Key).First();
        var kept = Math.Min(rarest.Value, MaxFocusPixels);
        var pixels = new int[kept];
        long seen = 0;
        for (var i = 0; i < mask.Length; i++)
        {
            if (mask[i] == rarest.Key)
            {
                // Slot k keeps the first pixel of the class whose (seen * kept / count) is k: every pixel when all fit.
                if (seen * kept % rarest.Value < kept)
                {
                    pixels[seen * kept / rarest.Value] = i;
                }

                seen++;
            }
        }

        return pixels;
    }

    /// <summary>
    /// Cuts and augments one tile from a section: <paramref name="image"/> (C, H, W) floating point,
    /// <paramref name="mask"/> (H, W) of class indices, <paramref name="weights"/> (H, W) floating point. Returns new
    /// tensors (C, in, in), (out, out) and (out, out); the section is not modified. <paramref name="focus"/>: the
    /// section's pixels to oversample (<see cref="DrawWindow"/>), or null.
    /// </summary>
    public TrainingTile Sample(Tensor image, Tensor mask, Tensor weights, long seed, IReadOnlyList<int>? focus = null)
    {
        ValidateSection(image, mask, weights);
        var window = DrawWindow(seed, image.shape[1], image.shape[2], focus);
        var margin = _options.Margin;
        var inputSize = _options.InputSize;
        var inputTop = window.OutputTop - margin;
        var inputLeft = window.OutputLeft - margin;

        using var scope = torch.NewDisposeScope();
        var tileImage = MirrorPadding.Crop(image, inputTop, inputLeft, inputSize, inputSize); // (C, in, in)
        var tileMask = MirrorPadding.Crop(mask, inputTop, inputLeft, inputSize, inputSize); // (in, in)
        var tileWeights = MirrorPadding.Crop(weights, inputTop, inputLeft, inputSize, inputSize); // (in, in)
        if (_augmenter is not null)
        {
            (tileImage, tileMask, tileWeights) = _augmenter.Apply(
                tileImage, tileMask, tileWeights, DeriveSeed(seed, AugmentationStream));
        }

        var outputMask = CentreCrop(tileMask, margin, _options.OutputSize); // (out, out)
        var outputWeights = CentreCrop(tileWeights, margin, _options.OutputSize); // (out, out)
        return new TrainingTile(
            tileImage.MoveToOuterDisposeScope(),
            outputMask.MoveToOuterDisposeScope(),
            outputWeights.MoveToOuterDisposeScope(),
            window);
    }

    private static Tensor CentreCrop(Tensor tensor, int margin, int size) =>
        tensor.narrow(0, margin, size).narrow(1, margin, size).contiguous();

    private static void ValidateSection(Tensor image, Tensor mask, Tensor weights) =>
        LabelledTensors.Require(image, mask, weights, "section");
}
