using static TorchSharp.torch;

namespace UNetCluster.Data.Tiling;

/// <summary>Checks that an image, its mask and its weight map have the shapes and types the tiling code expects.</summary>
internal static class LabelledTensors
{
    /// <summary>
    /// Image (C, H, W) floating point, mask (H, W) integer, weights (H, W) floating point; <paramref name="what"/>
    /// names the thing in the message ("section", "tile"). Returns (H, W).
    /// </summary>
    public static (long Height, long Width) Require(Tensor image, Tensor mask, Tensor weights, string what)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(mask);
        ArgumentNullException.ThrowIfNull(weights);
        if (image.ndim != 3 || !image.is_floating_point())
        {
            throw new ArgumentException(
                $"The {what} image must be a floating-point tensor (C, H, W); got {image.dtype} [{string.Join(", ", image.shape)}].",
                nameof(image));
        }

        var height = image.shape[1];
        var width = image.shape[2];
        if (mask.ndim != 2 || mask.shape[0] != height || mask.shape[1] != width || !mask.is_integral())
        {
            throw new ArgumentException(
                $"The {what} mask must be an integer tensor (H, W) = ({height}, {width}) like the image; got {mask.dtype} " +
                $"[{string.Join(", ", mask.shape)}].",
                nameof(mask));
        }

        if (weights.ndim != 2 || weights.shape[0] != height || weights.shape[1] != width || !weights.is_floating_point())
        {
            throw new ArgumentException(
                $"The {what} weight map must be a floating-point tensor (H, W) = ({height}, {width}) like the image; got " +
                $"{weights.dtype} [{string.Join(", ", weights.shape)}].",
                nameof(weights));
        }

        return (height, width);
    }
}
