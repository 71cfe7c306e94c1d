namespace UNetCluster.Model.Metrics;

/// <summary>
/// A metric that picks a run's best checkpoint and calibrates its decision threshold (<c>--select-by</c>). Each has its
/// natural direction: the errors are minimised, the overlaps and object F1 maximised.
/// </summary>
public enum ValidationMetric
{
    /// <summary>Fraction of pixels of the wrong class (the ISBI 2012 pixel error); lower is better.</summary>
    PixelError,

    /// <summary>Adapted Rand error of the foreground's connected components (the ISBI 2012 ranking metric); lower is better.</summary>
    RandError,

    /// <summary>Foreground Dice; higher is better.</summary>
    Dice,

    /// <summary>Foreground intersection over union; higher is better.</summary>
    IoU,

    /// <summary>Object F1 at IoU 0.5 against instance truth (instance masks only); higher is better.</summary>
    ObjectF1,
}

/// <summary>Names, directions and parsing of <see cref="ValidationMetric"/>.</summary>
public static class ValidationMetrics
{
    private static readonly (ValidationMetric Metric, string Name)[] All =
    [
        (ValidationMetric.PixelError, "pixel-error"),
        (ValidationMetric.RandError, "rand-error"),
        (ValidationMetric.Dice, "dice"),
        (ValidationMetric.IoU, "iou"),
        (ValidationMetric.ObjectF1, "object-f1"),
    ];

    /// <summary>The names <c>--select-by</c> accepts, in a fixed order.</summary>
    public static IReadOnlyList<string> Names { get; } = [.. All.Select(m => m.Name)];

    /// <summary>The metric's option name, e.g. <c>rand-error</c>.</summary>
    public static string Name(this ValidationMetric metric) => All.First(m => m.Metric == metric).Name;

    /// <summary>True when lower values are better.</summary>
    public static bool LowerIsBetter(this ValidationMetric metric) => metric is ValidationMetric.PixelError or ValidationMetric.RandError;

    /// <summary>True when <paramref name="candidate"/> is strictly better than <paramref name="best"/>.</summary>
    public static bool IsBetter(this ValidationMetric metric, double candidate, double best) =>
        metric.LowerIsBetter() ? candidate < best : candidate > best;

    /// <summary>"lowest rand-error" or "highest dice", for messages.</summary>
    public static string Describe(this ValidationMetric metric) => (metric.LowerIsBetter() ? "lowest " : "highest ") + metric.Name();

    /// <summary>The metric a name gives; an unknown name is refused with the known ones, naming <paramref name="option"/>.</summary>
    public static ValidationMetric Parse(string name, string option = "--select-by")
    {
        ArgumentNullException.ThrowIfNull(name);
        foreach (var (metric, known) in All)
        {
            if (string.Equals(name.Trim(), known, StringComparison.OrdinalIgnoreCase))
            {
                return metric;
            }
        }

        throw new ArgumentException($"{option} '{name}' is unknown: expected {string.Join(", ", Names)}.", option);
    }
}
