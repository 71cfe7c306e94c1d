namespace UNetCluster.Data.DataSets;

/// <summary>Labelled sections in the order of their file names (ordinal), then of their pages.</summary>
public sealed record LabelledDataSet(IReadOnlyList<LabelledSection> Sections)
{
    /// <summary>The channels of every image (the loader refuses a set that mixes counts); 1 for an empty set.</summary>
    public int Channels => Sections.Count == 0 ? 1 : Sections[0].Image.Channels;
}
