using UNetCluster.Data.Imaging;

namespace UNetCluster.Model.Inference;

/// <summary>
/// The colour overlay of a class map: the image in gray, each class other than 0 blended in its colour, and below it a
/// legend strip (<see cref="OverlayLegend"/>), one row per class: its colour and "index name" (or the index alone when the
/// classes have no names).
/// </summary>
public static class ClassOverlay
{
    /// <summary>Legend rows at most; beyond it only the classes present in the map are listed.</summary>
    private const int MaxRows = 32;

    /// <summary>Distinct colours for classes 1.. (Tableau 10, then generated hues); class 0 (background) is not tinted.</summary>
    private static readonly (byte R, byte G, byte B)[] Palette =
    [
        (0, 0, 0), (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
        (140, 86, 75), (227, 119, 194), (188, 189, 34), (23, 190, 207), (127, 127, 127),
    ];

    /// <summary>The colour of class <paramref name="index"/> in the overlay and its legend.</summary>
    public static (byte R, byte G, byte B) Colour(int index)
    {
        if (index < Palette.Length)
        {
            return Palette[index];
        }

        // Golden-ratio hue steps keep neighbouring indices apart.
        var hue = (index * 0.618033988749895) % 1.0;
        var (r, g, b) = FromHue(hue);
        return ((byte)(r * 220), (byte)(g * 220), (byte)(b * 220));
    }

    /// <summary>The overlay with its legend below: RGB bytes of a (width) x (height + legend) image, and that height.</summary>
    public static (byte[] Rgb, int Height) Draw(GrayImage image, byte[] classes, int classCount, IReadOnlyList<string>? names)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(classes);
        var (width, height) = (image.Width, image.Height);
        var listed = Enumerable.Range(0, classCount).ToList();
        if (listed.Count > MaxRows)
        {
            var present = new bool[256];
            foreach (var c in classes)
            {
                present[c] = true;
            }

            listed = [.. listed.Where(c => present[c]).Take(MaxRows)];
        }

        var rgb = new byte[width * height * 3];
        // The image's own colours for RGB, gray otherwise; channel-planar (GrayImage.Values).
        var unit = image.ToUnitRange();
        var plane = image.PlaneLength;
        var (red, green, blue) = image.Channels >= 3 ? (0, plane, 2 * plane) : (0, 0, 0);
        for (var i = 0; i < plane; i++)
        {
            var (r, g, b) = (unit[red + i] * 255f, unit[green + i] * 255f, unit[blue + i] * 255f);
            if (classes[i] != 0)
            {
                var colour = Colour(classes[i]);
                (r, g, b) = ((0.5f * r) + (0.5f * colour.R), (0.5f * g) + (0.5f * colour.G), (0.5f * b) + (0.5f * colour.B));
            }

            rgb[3 * i] = (byte)Math.Clamp(r, 0, 255);
            rgb[(3 * i) + 1] = (byte)Math.Clamp(g, 0, 255);
            rgb[(3 * i) + 2] = (byte)Math.Clamp(b, 0, 255);
        }

        var rows = listed.Select(c => new LegendRow(
            c == 0 ? ((byte)0, (byte)0, (byte)0) : Colour(c),
            names is not null && c < names.Count ? $"{c} {names[c]}" : $"{c}",
            Outline: c == 0)).ToList();
        return OverlayLegend.Append(rgb, width, height, rows);
    }

    private static (double R, double G, double B) FromHue(double hue)
    {
        var h = hue * 6;
        var x = 1 - Math.Abs((h % 2) - 1);
        return (int)h switch
        {
            0 => (1, x, 0),
            1 => (x, 1, 0),
            2 => (0, 1, x),
            3 => (0, x, 1),
            4 => (x, 0, 1),
            _ => (1, 0, x),
        };
    }
}
