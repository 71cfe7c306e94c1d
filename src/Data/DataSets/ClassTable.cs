using System.Globalization;
using System.Text.Json;

namespace UNetCluster.Data.DataSets;

/// <summary>One class of a <see cref="ClassTable"/>: its index, its name and, for colour masks, its colour as <c>#rrggbb</c>.</summary>
public sealed record ClassEntry(int Index, string Name, string? Colour = null);

/// <summary>
/// <c>classes.json</c> beside the masks: the classes' names and indices and, for colour class masks, the colour of
/// each (<c>{"classes": [{"index": 0, "name": "background", "colour": "#000000"}, {"index": 1, "name": "gland",
/// "colour": [255, 0, 0]}]}</c>; <c>color</c> is read too). Gray class masks use it for the names only.
/// </summary>
public sealed record ClassTable(IReadOnlyList<ClassEntry> Classes)
{
    public const string FileName = "classes.json";

    /// <summary>The names by index, 0..largest index (an index without an entry is named by its number).</summary>
    public IReadOnlyList<string> Names =>
        [.. Enumerable.Range(0, Classes.Max(c => c.Index) + 1).Select(i => Classes.FirstOrDefault(c => c.Index == i)?.Name ?? i.ToString(CultureInfo.InvariantCulture))];

    /// <summary>The index of each colour, keyed r &lt;&lt; 16 | g &lt;&lt; 8 | b.</summary>
    public IReadOnlyDictionary<int, int> IndexByColour =>
        Classes.Where(c => c.Colour is not null).ToDictionary(c => Convert.ToInt32(c.Colour![1..], 16), c => c.Index);

    public static int Key(int r, int g, int b) => (r << 16) | (g << 8) | b;

    /// <summary>
    /// The <c>classes.json</c> of <paramref name="masksDirectory"/>, null when there is none; a file that cannot be read
    /// adds a problem naming it and what is expected.
    /// </summary>
    public static ClassTable? Read(string masksDirectory, List<string> problems)
    {
        ArgumentNullException.ThrowIfNull(problems);
        var path = Path.Combine(masksDirectory, FileName);
        if (!File.Exists(path))
        {
            return null;
        }

        const string expected = "expected {\"classes\": [{\"index\": 0, \"name\": \"background\", \"colour\": \"#000000\"}, ...]} " +
                                "with distinct indices 0..255, names without commas, and distinct colours as \"#rrggbb\" or [r, g, b]";
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(path));
            var entries = new List<ClassEntry>();
            foreach (var element in document.RootElement.GetProperty("classes").EnumerateArray())
            {
                var index = element.GetProperty("index").GetInt32();
                var name = element.TryGetProperty("name", out var n) ? n.GetString() ?? string.Empty : index.ToString(CultureInfo.InvariantCulture);
                string? colour = null;
                if (element.TryGetProperty("colour", out var c) || element.TryGetProperty("color", out c))
                {
                    byte[] rgb = c.ValueKind == JsonValueKind.String
                        ? Convert.FromHexString(c.GetString()!.TrimStart('#'))
                        : [.. c.EnumerateArray().Select(v => v.GetByte())];
                    colour = rgb.Length == 3 ? $"#{rgb[0]:x2}{rgb[1]:x2}{rgb[2]:x2}" : "invalid";
                }

                entries.Add(new ClassEntry(index, name, colour));
            }

            var bad = entries.Count == 0
                || entries.Any(e => e.Index is < 0 or >= DataSetLoader.MaxClasses || e.Colour == "invalid" || e.Name.Contains(',', StringComparison.Ordinal))
                || entries.Select(e => e.Index).Distinct().Count() != entries.Count
                || entries.Where(e => e.Colour is not null).Select(e => e.Colour).Distinct().Count() != entries.Count(e => e.Colour is not null);
            if (bad)
            {
                problems.Add($"{path}: the class table is not valid: {expected}");
                return null;
            }

            return new ClassTable(entries);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or IOException)
        {
            problems.Add($"{path}: cannot be read ({e.Message.Split('\n')[0]}); {expected}");
            return null;
        }
    }
}
