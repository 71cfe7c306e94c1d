namespace UNetCluster.Model.Metrics;

/// <summary>
/// How much of the truth's contacts a border-class model (background, interior, border) marks as border: the pixels
/// where an object touches another (the border of <see cref="Data.Labels.InstanceTargets.FromWithBorder"/>, a labelled
/// section's <see cref="Data.DataSets.LabelledSection.Border"/>), and those of them whose most
/// probable class is the border. A model that marks none has not learned the border class: it can separate touching
/// objects only by the shape of its interior, and merges most of them.
/// </summary>
/// <param name="Pixels">Contact pixels in the truth.</param>
/// <param name="Marked">Contact pixels predicted as border.</param>
public sealed record ContactScore(long Pixels, long Marked)
{
    /// <summary>The share of contact pixels marked (0..1); null without contacts.</summary>
    public double? Share => Pixels == 0 ? null : (double)Marked / Pixels;

    /// <summary>
    /// Counts the pixels of <paramref name="contacts"/> (1 = contact) and those where <paramref name="border"/>'s
    /// probability is the highest of the three classes'.
    /// </summary>
    public static ContactScore Count(byte[] contacts, float[] background, float[] interior, float[] border)
    {
        ArgumentNullException.ThrowIfNull(contacts);
        ArgumentNullException.ThrowIfNull(background);
        ArgumentNullException.ThrowIfNull(interior);
        ArgumentNullException.ThrowIfNull(border);
        if (background.Length != contacts.Length || interior.Length != contacts.Length || border.Length != contacts.Length)
        {
            throw new ArgumentException($"Expected {contacts.Length} probabilities of each class, got {background.Length}, {interior.Length} and {border.Length}.");
        }

        long pixels = 0, marked = 0;
        for (var i = 0; i < contacts.Length; i++)
        {
            if (contacts[i] == 0)
            {
                continue;
            }

            pixels++;
            marked += border[i] >= background[i] && border[i] >= interior[i] ? 1 : 0;
        }

        return new ContactScore(pixels, marked);
    }
}
