using TorchSharp;
using static TorchSharp.torch;

namespace UNetCluster.Model.Inference;

/// <summary>Border extrapolation by mirroring, as the paper's overlap-tile strategy uses.</summary>
public static class MirrorPad
{
    /// <summary>
    /// Pads the last two dimensions of <paramref name="input"/> by reflection (the edge pixel is not repeated), for
    /// any pad size: pads larger than the map reflect again, as numpy's 'reflect' mode does.
    /// </summary>
    public static Tensor Pad(Tensor input, long top, long bottom, long left, long right)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var scope = NewDisposeScope();
        var x = input.dim() == 2 ? input.unsqueeze(0) : input;
        var squeeze = input.dim() == 2;
        while (top > 0 || bottom > 0 || left > 0 || right > 0)
        {
            var height = x.shape[^2];
            var width = x.shape[^1];
            if (height < 2 && (top > 0 || bottom > 0) || width < 2 && (left > 0 || right > 0))
            {
                throw new ArgumentException($"Cannot mirror a {height}x{width} map: reflection needs at least 2 pixels along each padded side.");
            }

            long Take(ref long remaining, long size)
            {
                var step = Math.Min(remaining, size - 1);
                remaining -= step;
                return step;
            }

            var t = Take(ref top, height);
            var b = Take(ref bottom, height);
            var l = Take(ref left, width);
            var r = Take(ref right, width);
            x = nn.functional.pad(x, [l, r, t, b], PaddingModes.Reflect);
        }

        return (squeeze ? x.squeeze(0) : x.alias()).MoveToOuterDisposeScope();
    }
}
