namespace UNetCluster.Data.Imaging;

/// <summary>How an image's raw values become the network input (<see cref="GrayImage.Normalised(IntensityNormalisation?)"/>).</summary>
public enum NormalisationKind
{
    /// <summary>Each channel shifted to zero mean and scaled to unit standard deviation (the default; ISBI's EM sections).</summary>
    MeanStd,

    /// <summary>
    /// Each channel's <see cref="IntensityNormalisation.LowPercentile"/> mapped to 0 and its
    /// <see cref="IntensityNormalisation.HighPercentile"/> to 1, linearly and not clipped: robust to the few hot or
    /// dead pixels of 16-bit microscopy, whose full range is mostly empty.
    /// </summary>
    Percentile,
}

/// <summary>
/// Per-image intensity normalisation, computed on each image (each page of a stack) and each channel on its own, so
/// that training and prediction see the same input scale whatever the acquisition's bit depth or gain. Recorded in
/// the training options, hence in every checkpoint, so that prediction applies exactly what training did.
/// </summary>
/// <param name="Kind">Mean/std (the default) or percentile.</param>
/// <param name="LowPercentile">With <see cref="NormalisationKind.Percentile"/>: the percentile mapped to 0 (default 1).</param>
/// <param name="HighPercentile">With <see cref="NormalisationKind.Percentile"/>: the percentile mapped to 1 (default 99.8).</param>
public sealed record IntensityNormalisation(
    NormalisationKind Kind = NormalisationKind.MeanStd, double LowPercentile = 1, double HighPercentile = 99.8)
{
    /// <summary>Mean/std per channel, the default.</summary>
    public static IntensityNormalisation MeanStd { get; } = new();

    /// <summary>The 1st and 99.8th percentiles of each channel to 0 and 1.</summary>
    public static IntensityNormalisation Percentile { get; } = new(NormalisationKind.Percentile);

    /// <summary>The CLI's and job spec's names: mean-std, percentile.</summary>
    public static IReadOnlyList<string> Names { get; } = ["mean-std", "percentile"];

    /// <summary>The normalisation a CLI or spec name stands for; throws naming <paramref name="option"/> otherwise.</summary>
    public static IntensityNormalisation Parse(string name, string option = "--normalisation") =>
        name?.ToLowerInvariant() switch
        {
            "mean-std" => MeanStd,
            "percentile" => Percentile,
            _ => throw new ArgumentException($"{option} '{name}' is unknown: expected {string.Join(" or ", Names)}.", option),
        };

    /// <summary>Checks the percentiles, throwing an <see cref="ArgumentException"/> that names the option.</summary>
    public IntensityNormalisation Validate()
    {
        if (!Enum.IsDefined(Kind))
        {
            throw new ArgumentException($"--normalisation {Kind} is invalid: expected {string.Join(" or ", Names)}.", "--normalisation");
        }

        if (!(LowPercentile is >= 0 and < 100) || !(HighPercentile is > 0 and <= 100) || LowPercentile >= HighPercentile)
        {
            throw new ArgumentException(
                $"--normalisation percentiles {LowPercentile} and {HighPercentile} are invalid: expected 0 <= low < high <= 100.", "--normalisation");
        }

        return this;
    }
}
