using TorchSharp;
using static TorchSharp.torch;

namespace UNetCluster.Data.Tiling;

/// <summary>
/// Border extrapolation by mirroring, as the U-Net paper uses to predict pixels at the border of an image
/// (Ronneberger et al. 2015, Fig. 2). The reflection is about the edge pixel, which is not repeated: the row above
/// row 0 is row 1 (NumPy's <c>'reflect'</c>, PyTorch's <c>'reflect'</c>). Unlike <c>torch.nn.functional.pad</c>,
/// which refuses a reflection pad as large as the image, a pad of any size is filled by reflecting again, with
/// period 2 (n - 1) along an axis of n pixels; an axis of a single pixel repeats it (NumPy does the same).
/// </summary>
/// <remarks>
/// Tensors may have any number of leading dimensions: the last two are height and width, so (H, W) masks and
/// (C, H, W) images are padded alike. Any dtype is accepted and kept; values are copied, never interpolated.
/// </remarks>
public static class MirrorPadding
{
    /// <summary>
    /// Pads the last two dimensions of <paramref name="image"/> by mirroring: the result has height
    /// H + <paramref name="top"/> + <paramref name="bottom"/> and width W + <paramref name="left"/> +
    /// <paramref name="right"/>.
    /// </summary>
    public static Tensor Pad(Tensor image, int top, int bottom, int left, int right)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentOutOfRangeException.ThrowIfNegative(top);
        ArgumentOutOfRangeException.ThrowIfNegative(bottom);
        ArgumentOutOfRangeException.ThrowIfNegative(left);
        ArgumentOutOfRangeException.ThrowIfNegative(right);
        var (height, width) = SpatialSize(image);
        return Crop(image, -top, -left, checked((int)height + top + bottom), checked((int)width + left + right));
    }

    /// <summary>
    /// Cuts the window of <paramref name="height"/> x <paramref name="width"/> pixels whose top-left pixel is at
    /// (<paramref name="top"/>, <paramref name="left"/>) out of the last two dimensions of <paramref name="image"/>;
    /// the window may extend beyond the image on any side (negative <paramref name="top"/> or
    /// <paramref name="left"/> included), and what lies outside is filled by mirroring. Always returns a new tensor.
    /// </summary>
    public static Tensor Crop(Tensor image, int top, int left, int height, int width)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        var (imageHeight, imageWidth) = SpatialSize(image);

        using var scope = torch.NewDisposeScope();
        var rows = torch.tensor(ReflectIndices(top, height, imageHeight), device: image.device);
        var columns = torch.tensor(ReflectIndices(left, width, imageWidth), device: image.device);
        var window = image.index_select(image.ndim - 2, rows).index_select(image.ndim - 1, columns);
        return window.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The source index, in [0, <paramref name="size"/>), of each of <paramref name="count"/> consecutive
    /// positions starting at <paramref name="start"/>, reflecting about the first and last pixel.
    /// </summary>
    internal static long[] ReflectIndices(long start, long count, long size)
    {
        var indices = new long[count];
        if (size == 1)
        {
            return indices; // a single pixel mirrors onto itself
        }

        var period = 2 * (size - 1);
        for (var i = 0L; i < count; i++)
        {
            var m = (start + i) % period;
            if (m < 0)
            {
                m += period;
            }

            indices[i] = m < size ? m : period - m;
        }

        return indices;
    }

    private static (long Height, long Width) SpatialSize(Tensor image)
    {
        if (image.ndim < 2)
        {
            throw new ArgumentException(
                $"Mirror padding needs a tensor of at least 2 dimensions (..., H, W); got shape [{string.Join(", ", image.shape)}].",
                nameof(image));
        }

        var height = image.shape[^2];
        var width = image.shape[^1];
        if (height == 0 || width == 0)
        {
            throw new ArgumentException("Cannot mirror an empty image.", nameof(image));
        }

        return (height, width);
    }
}
