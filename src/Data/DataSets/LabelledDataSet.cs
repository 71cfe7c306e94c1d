namespace UNetCluster.Data.DataSets;

/// <summary>Labelled sections in the order of their file names (ordinal), then of their pages.</summary>
public sealed record LabelledDataSet(IReadOnlyList<LabelledSection> Sections)
{
    /// <summary>What the masks hold (one kind for the whole set): binary, instances or classes.</summary>
    public MaskKind Kind { get; init; } = MaskKind.Binary;

    /// <summary>The number of classes the masks' values index: 2 for binary and instance masks; for class masks <c>--classes</c>, else the largest index + 1 (at least 2).</summary>
    public int Classes { get; init; } = 2;
}
