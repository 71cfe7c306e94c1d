namespace UNetCluster.Data.DataSets;

/// <summary>Labelled sections in the order of their file names (ordinal), then of their pages.</summary>
public sealed record LabelledDataSet(IReadOnlyList<LabelledSection> Sections)
{
    /// <summary>What the masks hold (one kind for the whole set): binary, instances or classes.</summary>
    public MaskKind Kind { get; init; } = MaskKind.Binary;

    /// <summary>The number of classes the masks' values index: 2 for binary and instance masks; for class masks <c>--classes</c>, else the largest index + 1 (at least 2).</summary>
    public int Classes { get; init; } = 2;

    /// <summary>The masks' <c>classes.json</c> (class names, and colours for colour masks), when they have one.</summary>
    public ClassTable? Table { get; init; }

    /// <summary>The classes' names by index (<see cref="Classes"/> of them), or null when the data does not name them.</summary>
    public IReadOnlyList<string>? ClassNames => Table is { } table
        ? [.. Enumerable.Range(0, Classes).Select(i => i < table.Names.Count ? table.Names[i] : i.ToString(System.Globalization.CultureInfo.InvariantCulture))]
        : null;

    /// <summary>The channels of every image (the loader refuses a set that mixes counts); 1 for an empty set.</summary>
    public int Channels => Sections.Count == 0 ? 1 : Sections[0].Image.Channels;
}
