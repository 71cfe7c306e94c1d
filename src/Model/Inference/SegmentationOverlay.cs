using UNetCluster.Data.Imaging;

namespace UNetCluster.Model.Inference;

/// <summary>
/// The overlay of a two-class prediction: the image (gray, or its own colours) with one class of the mask marked, and a
/// legend below it (<see cref="OverlayLegend"/>). Against a ground truth each pixel of that class is a hit (predicted and
/// true, green), a false positive (predicted, not true, magenta) or a miss (true, not predicted, blue); without one, the
/// predicted pixels are tinted red and the legend says there was no ground truth.
/// </summary>
public static class SegmentationOverlay
{
    public static readonly (byte R, byte G, byte B) Hit = (0, 200, 0);
    public static readonly (byte R, byte G, byte B) FalsePositive = (255, 0, 255);
    public static readonly (byte R, byte G, byte B) Miss = (0, 110, 255);
    public static readonly (byte R, byte G, byte B) Predicted = (255, 0, 0);

    /// <summary>How much of a marked pixel is its colour (the rest is the image, so its texture still shows).</summary>
    private const float Tint = 0.55f;

    /// <param name="mask">The predicted class per pixel, 0 or 1.</param>
    /// <param name="truth">The true class per pixel, or null when there is no ground truth.</param>
    /// <param name="marked">The class marked: 0 for membranes (the ISBI convention: 0 = membrane, 1 = cell), 1 for objects.</param>
    /// <param name="name">What the marked class is called in the legend.</param>
    /// <returns>RGB bytes of a (width) x (height + legend) image, and that height.</returns>
    public static (byte[] Rgb, int Height) Draw(GrayImage image, byte[] mask, byte[]? truth, int marked, string name)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(mask);
        var pixels = image.PlaneLength;
        if (mask.Length != pixels || (truth is not null && truth.Length != pixels))
        {
            throw new ArgumentException($"The mask and the truth must have the {pixels} pixels of {image.Source}.", nameof(mask));
        }

        var unit = image.ToUnitRange();
        var rgb = new byte[pixels * 3];
        for (var i = 0; i < pixels; i++)
        {
            var (r, g, b) = image.Channels == 1
                ? (unit[i] * 255f, unit[i] * 255f, unit[i] * 255f)
                : (unit[i] * 255f, unit[pixels + i] * 255f, image.Channels > 2 ? unit[(2 * pixels) + i] * 255f : 0f);
            var predicted = mask[i] == marked;
            var colour = truth is null
                ? predicted ? Predicted : ((byte, byte, byte)?)null
                : (predicted, truth[i] == marked) switch
                {
                    (true, true) => Hit,
                    (true, false) => FalsePositive,
                    (false, true) => Miss,
                    _ => null,
                };
            if (colour is { } c)
            {
                (r, g, b) = (((1 - Tint) * r) + (Tint * c.Item1), ((1 - Tint) * g) + (Tint * c.Item2), ((1 - Tint) * b) + (Tint * c.Item3));
            }

            rgb[3 * i] = (byte)Math.Clamp(r, 0, 255);
            rgb[(3 * i) + 1] = (byte)Math.Clamp(g, 0, 255);
            rgb[(3 * i) + 2] = (byte)Math.Clamp(b, 0, 255);
        }

        LegendRow[] rows = truth is null
            ? [new(Predicted, $"predicted {name}"), new((0, 0, 0), "no ground truth", Outline: true)]
            : [new(Hit, $"hit: {name}"), new(FalsePositive, "false positive"), new(Miss, "miss")];
        return OverlayLegend.Append(rgb, image.Width, image.Height, rows);
    }
}
