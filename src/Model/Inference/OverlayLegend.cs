namespace UNetCluster.Model.Inference;

/// <summary>One row of an overlay's legend: a swatch of <see cref="Colour"/> (an empty square when
/// <see cref="Outline"/>) and its label.</summary>
public sealed record LegendRow((byte R, byte G, byte B) Colour, string Label, bool Outline = false);

/// <summary>
/// The legend strip below an overlay: one row per entry on white, a colour swatch and its label in a small built-in
/// pixel font (letters are shown upper-case). The overlays (<see cref="ClassOverlay"/>, <see cref="SegmentationOverlay"/>)
/// draw their image, and this appends the strip, so the picture explains itself wherever it is copied.
/// </summary>
public static class OverlayLegend
{
    private const int Scale = 2;

    /// <summary>Pixels of one legend row.</summary>
    public const int RowHeight = (5 * Scale) + 4;

    /// <summary>
    /// The image (RGB bytes, <paramref name="width"/> x <paramref name="height"/>) with the legend below it: RGB bytes of
    /// a (width) x (height + legend) image, and that height.
    /// </summary>
    public static (byte[] Rgb, int Height) Append(byte[] image, int width, int height, IReadOnlyList<LegendRow> rows)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(rows);
        var total = height + (rows.Count * RowHeight) + 4;
        var rgb = new byte[width * total * 3];
        Array.Copy(image, rgb, width * height * 3);
        Array.Fill(rgb, (byte)255, width * height * 3, width * (total - height) * 3);
        for (var row = 0; row < rows.Count; row++)
        {
            var top = height + 4 + (row * RowHeight);
            Fill(rgb, width, total, 2, top, 5 * Scale, 5 * Scale, rows[row].Colour, rows[row].Outline);
            DrawText(rgb, width, total, 4 + (5 * Scale), top, rows[row].Label);
        }

        return (rgb, total);
    }

    /// <summary>Where row <paramref name="row"/>'s swatch starts (x, y) in an image of <paramref name="height"/> rows above the legend.</summary>
    public static (int X, int Y) SwatchAt(int height, int row) => (2, height + 4 + (row * RowHeight));

    private static void Fill(byte[] rgb, int width, int height, int x0, int y0, int w, int h, (byte R, byte G, byte B) colour, bool outline)
    {
        for (var y = y0; y < Math.Min(height, y0 + h); y++)
        {
            for (var x = x0; x < Math.Min(width, x0 + w); x++)
            {
                var edge = x == x0 || y == y0 || x == x0 + w - 1 || y == y0 + h - 1;
                if (outline && !edge)
                {
                    continue;
                }

                var i = 3 * ((y * width) + x);
                (rgb[i], rgb[i + 1], rgb[i + 2]) = colour;
            }
        }
    }

    private static void DrawText(byte[] rgb, int width, int height, int x0, int y0, string text)
    {
        var x = x0;
        foreach (var ch in text.ToUpperInvariant())
        {
            if (x + (3 * Scale) > width)
            {
                return;
            }

            var glyph = Glyphs.TryGetValue(ch, out var g) ? g : Glyphs['?'];
            for (var row = 0; row < 5; row++)
            {
                for (var col = 0; col < 3; col++)
                {
                    if (glyph[(row * 4) + col] == '#')
                    {
                        Fill(rgb, width, height, x + (col * Scale), y0 + (row * Scale), Scale, Scale, (0, 0, 0), outline: false);
                    }
                }
            }

            x += 4 * Scale;
        }
    }

    /// <summary>A 3x5 pixel font: five rows of three cells ('#' on), rows separated by a space.</summary>
    private static readonly Dictionary<char, string> Glyphs = new()
    {
        ['0'] = "### #.# #.# #.# ###", ['1'] = ".#. ##. .#. .#. ###", ['2'] = "##. ..# .#. #.. ###", ['3'] = "##. ..# .#. ..# ##.",
        ['4'] = "#.# #.# ### ..# ..#", ['5'] = "### #.. ##. ..# ##.", ['6'] = ".## #.. ### #.# ###", ['7'] = "### ..# .#. .#. .#.",
        ['8'] = "### #.# ### #.# ###", ['9'] = "### #.# ### ..# ##.",
        ['A'] = ".#. #.# ### #.# #.#", ['B'] = "##. #.# ##. #.# ##.", ['C'] = ".## #.. #.. #.. .##", ['D'] = "##. #.# #.# #.# ##.",
        ['E'] = "### #.. ##. #.. ###", ['F'] = "### #.. ##. #.. #..", ['G'] = ".## #.. #.# #.# .##", ['H'] = "#.# #.# ### #.# #.#",
        ['I'] = "### .#. .#. .#. ###", ['J'] = "..# ..# ..# #.# .#.", ['K'] = "#.# #.# ##. #.# #.#", ['L'] = "#.. #.. #.. #.. ###",
        ['M'] = "#.# ### ### #.# #.#", ['N'] = "##. #.# #.# #.# #.#", ['O'] = ".#. #.# #.# #.# .#.", ['P'] = "##. #.# ##. #.. #..",
        ['Q'] = ".#. #.# #.# ##. .##", ['R'] = "##. #.# ##. #.# #.#", ['S'] = ".## #.. .#. ..# ##.", ['T'] = "### .#. .#. .#. .#.",
        ['U'] = "#.# #.# #.# #.# ###", ['V'] = "#.# #.# #.# #.# .#.", ['W'] = "#.# #.# ### ### #.#", ['X'] = "#.# #.# .#. #.# #.#",
        ['Y'] = "#.# #.# .#. .#. .#.", ['Z'] = "### ..# .#. #.. ###",
        [' '] = "... ... ... ... ...", ['-'] = "... ... ### ... ...", ['_'] = "... ... ... ... ###", ['.'] = "... ... ... ... .#.",
        [':'] = "... .#. ... .#. ...", ['?'] = "##. ..# .#. ... .#.", ['('] = ".#. #.. #.. #.. .#.", [')'] = ".#. ..# ..# ..# .#.",
        [','] = "... ... ... .#. #..", ['/'] = "..# ..# .#. #.. #..", ['%'] = "#.# ..# .#. #.. #.#", ['='] = "... ### ... ### ...",
    };
}
