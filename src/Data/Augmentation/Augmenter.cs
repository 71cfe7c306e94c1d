using UNetCluster.Data.Tiling;
using TorchSharp;
using UNetCluster.Data.Randomness;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace UNetCluster.Data.Augmentation;

/// <summary>
/// Augments one training tile: an image (C, H, W), its mask (H, W) of class indices and its weight map (H, W), all
/// covering the same pixels. The same random transformation is applied to the three, so labels stay on the pixels
/// they describe:
/// <list type="number">
/// <item>an elastic deformation (<see cref="AugmentationOptions.Elastic"/>): x and y displacements drawn from
/// N(0, σ²) on a coarse G x G grid spanning the tile, upsampled to one displacement per pixel by bicubic
/// interpolation (corners aligned), and every output pixel sampled at its displaced position (bilinear for the
/// image, nearest for the mask and the weights so that labels stay labels); positions that leave the tile are
/// mirrored back into it;</item>
/// <item>a rotation by k x 90 degrees, k uniform in {0, 1, 2, 3} (<see cref="AugmentationOptions.Rotate90"/>);</item>
/// <item>a left-right and a top-bottom flip, each with probability 1/2 (<see cref="AugmentationOptions.Flip"/>).</item>
/// </list>
/// </summary>
/// <remarks>
/// <para>The augmenter works on whole, aligned tensors and knows nothing of input and output windows:
/// <see cref="Tiling.TileSampler"/> cuts an input-size window of image, mask and weights, augments the three, and
/// only then crops the centre of the mask and weights, so the labels of the output window come from the same
/// deformed pixels as the image around them.</para>
/// <para>Every random choice comes from the seed through <see cref="SplitMix64"/>, with one derived
/// stream per step (elastic, rotation, flip), so switching one step off does not change what the others do for a
/// seed. For a seed, results are bit-identical from run to run on a machine. Across machines the integer draws
/// (rotation, flips) are identical; the Gaussian displacements go through <see cref="Math.Log"/> and
/// <see cref="Math.Cos"/>, and the resampling through libtorch kernels whose last bits may depend on the CPU's
/// vector instructions, so other hardware can differ in the last bits of the image.</para>
/// <para>Rotations by 90 and 270 degrees swap H and W; training tiles are square.</para>
/// </remarks>
public sealed class Augmenter
{
    private const long ElasticStream = 0;
    private const long RotationStream = 1;
    private const long FlipStream = 2;

    private readonly AugmentationOptions _options;

    public Augmenter(AugmentationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
    }

    public AugmentationOptions Options => _options;

    /// <summary>
    /// Returns new tensors: the augmented image (same dtype as <paramref name="image"/>), mask (same dtype as
    /// <paramref name="mask"/>, values drawn from the input mask) and weights (values drawn from the input
    /// weights). The inputs are not modified.
    /// </summary>
    public (Tensor Image, Tensor Mask, Tensor Weights) Apply(Tensor image, Tensor mask, Tensor weights, long seed)
    {
        ValidateTile(image, mask, weights);

        using var scope = torch.NewDisposeScope();
        var outImage = image;
        var outMask = mask;
        var outWeights = weights;

        if (_options.Elastic)
        {
            (outImage, outMask, outWeights) = Deform(image, mask, weights, Stream(seed, ElasticStream));
        }

        var spatial = (image.ndim - 2, image.ndim - 1);
        if (_options.Rotate90)
        {
            var k = Stream(seed, RotationStream).NextInt(4);
            if (k != 0)
            {
                outImage = outImage.rot90(k, spatial);
                outMask = outMask.rot90(k, (0, 1));
                outWeights = outWeights.rot90(k, (0, 1));
            }
        }

        if (_options.Flip)
        {
            var random = Stream(seed, FlipStream);
            var flipLeftRight = random.NextBool();
            var flipTopBottom = random.NextBool();
            if (flipLeftRight)
            {
                outImage = outImage.flip(spatial.Item2);
                outMask = outMask.flip(1);
                outWeights = outWeights.flip(1);
            }

            if (flipTopBottom)
            {
                outImage = outImage.flip(spatial.Item1);
                outMask = outMask.flip(0);
                outWeights = outWeights.flip(0);
            }
        }

        return (
            Owned(outImage, image).MoveToOuterDisposeScope(),
            Owned(outMask, mask).MoveToOuterDisposeScope(),
            Owned(outWeights, weights).MoveToOuterDisposeScope());
    }

    /// <summary>Resamples the three tensors at the same randomly displaced positions.</summary>
    private (Tensor Image, Tensor Mask, Tensor Weights) Deform(Tensor image, Tensor mask, Tensor weights, SplitMix64 random)
    {
        var height = image.shape[^2];
        var width = image.shape[^1];
        var gridSize = _options.ElasticGridSize;

        // Coarse displacements in pixels: channel 0 is x (along W), channel 1 is y (along H).
        var coarseValues = new float[2 * gridSize * gridSize];
        for (var i = 0; i < coarseValues.Length; i++)
        {
            coarseValues[i] = (float)(random.NextGaussian() * _options.ElasticSigmaPixels);
        }

        var coarse = torch.tensor(coarseValues, [1, 2, gridSize, gridSize], device: image.device); // (1, 2, G, G)
        var displacement = interpolate(
            coarse, size: [height, width], mode: InterpolationMode.Bicubic, align_corners: true); // (1, 2, H, W)

        // Sampling positions in pixels, then normalised to [-1, 1] with -1 and 1 at the centres of the corner
        // pixels (align_corners: true), which is also where grid_sample's reflection mirrors.
        var xs = torch.arange(width, dtype: ScalarType.Float32, device: image.device).view(1, 1, width) + displacement[.., 0];
        var ys = torch.arange(height, dtype: ScalarType.Float32, device: image.device).view(1, height, 1) + displacement[.., 1];
        var grid = torch.stack([xs * (2.0 / (width - 1)) - 1.0, ys * (2.0 / (height - 1)) - 1.0], dim: -1); // (1, H, W, 2)

        var deformedImage = grid_sample(
            image.unsqueeze(0), grid.to(image.dtype), GridSampleMode.Bilinear, GridSamplePaddingMode.Reflection,
            align_corners: true).squeeze(0); // (C, H, W)

        // Nearest neighbour copies values, so the mask's class indices survive the round trip through floats
        // (exact below 2^24).
        var labels = torch.stack([mask.to(ScalarType.Float32), weights.to(ScalarType.Float32)]).unsqueeze(0); // (1, 2, H, W)
        var deformedLabels = grid_sample(
            labels, grid, GridSampleMode.Nearest, GridSamplePaddingMode.Reflection, align_corners: true).squeeze(0);
        var deformedMask = deformedLabels[0].round().to(mask.dtype);
        var deformedWeights = deformedLabels[1].to(weights.dtype);
        return (deformedImage, deformedMask, deformedWeights);
    }

    private static SplitMix64 Stream(long seed, long step) => new(SplitMix64.Derive(seed, [step]));

    /// <summary>A contiguous result that never shares storage with the caller's input.</summary>
    private static Tensor Owned(Tensor result, Tensor input) =>
        ReferenceEquals(result, input) ? input.clone() : result.contiguous();

    private static void ValidateTile(Tensor image, Tensor mask, Tensor weights)
    {
        var (height, width) = LabelledTensors.Require(image, mask, weights, "tile");
        if (height < 2 || width < 2)
        {
            throw new ArgumentException($"The tile must be at least 2 x 2 pixels; got {height} x {width}.", nameof(image));
        }
    }
}
