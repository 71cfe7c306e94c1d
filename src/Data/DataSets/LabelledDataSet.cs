namespace UNetCluster.Data.DataSets;

/// <summary>Labelled sections in the order of their file names (ordinal), then of their pages.</summary>
public sealed record LabelledDataSet(IReadOnlyList<LabelledSection> Sections);
