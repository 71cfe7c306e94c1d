using UNetCluster.Contracts.Jobs;
using UNetCluster.Contracts.Messages;
using UNetCluster.Model.Metrics;

namespace UNetCluster.Training.Coordination;

/// <summary>
/// Turns the workers' scored validation sections into one validation: the decision threshold (with instance data, the
/// threshold and smallest object size) whose mean value of the selection metric over all sections is best (ties go to
/// the threshold nearest 0.5, then the smallest size; for object F1, the threshold nearest 0.5 within one standard error
/// of the best, <see cref="ThresholdSweep.BestThreshold"/>), and every mean score at it.
/// </summary>
public static class ValidationChoice
{
    /// <exception cref="InvalidOperationException">No section was scored, the sections were scored at different
    /// thresholds, or the metric is object F1 and some section has no instance truth.</exception>
    public static ValidationResult Choose(IReadOnlyList<SectionValidation> sections, ValidationMetric metric, long step, double seconds)
    {
        ArgumentNullException.ThrowIfNull(sections);
        if (sections.Count == 0)
        {
            throw new InvalidOperationException("the validation scored no section: the data set holds no validation sections.");
        }

        var thresholds = sections[0].Thresholds;
        if (sections.Any(s => !s.Thresholds.SequenceEqual(thresholds)))
        {
            throw new InvalidOperationException("the workers scored the validation sections at different thresholds (silos of different versions?).");
        }

        var sizes = sections[0].MinObjectPixels;
        if (sections.Any(s => !(s.MinObjectPixels ?? []).SequenceEqual(sizes ?? [])) || (sizes is not null && sizes.Length != thresholds.Length))
        {
            throw new InvalidOperationException("the workers scored the validation sections at different smallest object sizes (silos of different versions?).");
        }

        var objects = sections.All(s => s.ObjectF1 is not null && s.ObjectMeanF1 is not null);
        if (metric == ValidationMetric.ObjectF1 && !objects)
        {
            throw new InvalidOperationException(
                $"--select-by {metric.Name()} needs instance masks (object ids), but validation section '{sections.First(s => s.ObjectF1 is null).Id}' has a binary mask; " +
                $"expected one of {string.Join(", ", ValidationMetrics.Names.Where(n => n != ValidationMetric.ObjectF1.Name()))} for such data.");
        }

        var bySection = sections.Select(s => Values(s, metric)).ToArray();
        var k = ThresholdSweep.BestThreshold(thresholds, bySection, metric);
        double Mean(Func<SectionValidation, double[]> values) => sections.Average(s => values(s)[k]);
        var chosen = bySection.Select(v => v[k]).ToArray();
        var contacts = new ContactScore(sections.Sum(s => s.ContactPixels ?? 0), sections.Sum(s => s.ContactsMarked ?? 0));   // pooled over the sections
        var result = new ValidationResult
        {
            Step = step,
            At = DateTimeOffset.UtcNow,
            Metric = metric.Name(),
            Threshold = Math.Round(thresholds[k], 4),
            MinObjectPixels = sizes?[k] ?? 0,
            PixelError = Mean(s => s.PixelError),
            RandError = Mean(s => s.RandError),
            Dice = Mean(s => s.Dice),
            IoU = Mean(s => s.IoU),
            ObjectF1 = objects ? Mean(s => s.ObjectF1!) : null,
            ObjectMeanF1 = objects ? Mean(s => s.ObjectMeanF1!) : null,
            Sections = sections.Count,
            Seconds = seconds,
            StandardError = MeanError.Of(chosen),
            SectionIds = [.. sections.Select(s => s.Id)],
            SectionValues = chosen,
            ContactPixels = contacts.Share is null ? null : contacts.Pixels,
            ContactsMarked = contacts.Share,
        };
        return result with { Value = Value(result, metric) };
    }

    /// <summary>
    /// The standard error of <paramref name="candidate"/>'s difference from <paramref name="highest"/>: over the sections
    /// both scored (by id), when there are two or more, the differences' standard deviation over the square root of their
    /// count (the same sections make the comparison much sharper than either mean's own error); else the highest's
    /// <see cref="ValidationResult.StandardError"/>.
    /// </summary>
    public static double DifferenceError(ValidationResult candidate, ValidationResult highest)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        ArgumentNullException.ThrowIfNull(highest);
        if (candidate.SectionIds is not { } ids || candidate.SectionValues is not { } values || highest.SectionIds is not { } before || highest.SectionValues is not { } then)
        {
            return highest.StandardError;
        }

        if (before.Distinct(StringComparer.Ordinal).Count() != before.Length)
        {
            return highest.StandardError;   // ids that do not name one section each cannot pair
        }

        var earlier = before.Zip(then).ToDictionary(p => p.First, p => p.Second, StringComparer.Ordinal);
        var differences = ids.Zip(values).Where(p => earlier.ContainsKey(p.First)).Select(p => p.Second - earlier[p.First]).ToArray();
        return differences.Length < 2 ? highest.StandardError : MeanError.Of(differences);
    }

    /// <summary>The metric's value in a validation's scores.</summary>
    public static double Value(ValidationResult result, ValidationMetric metric)
    {
        ArgumentNullException.ThrowIfNull(result);
        return metric switch
        {
            ValidationMetric.PixelError => result.PixelError,
            ValidationMetric.RandError => result.RandError,
            ValidationMetric.Dice => result.Dice,
            ValidationMetric.IoU => result.IoU,
            ValidationMetric.ObjectF1 => result.ObjectF1 ?? double.NaN,
            _ => throw new ArgumentOutOfRangeException(nameof(metric), metric, "Unknown validation metric."),
        };
    }

    private static double[] Values(SectionValidation section, ValidationMetric metric) => metric switch
    {
        ValidationMetric.PixelError => section.PixelError,
        ValidationMetric.RandError => section.RandError,
        ValidationMetric.Dice => section.Dice,
        ValidationMetric.IoU => section.IoU,
        ValidationMetric.ObjectF1 => section.ObjectF1!,
        _ => throw new ArgumentOutOfRangeException(nameof(metric), metric, "Unknown validation metric."),
    };
}
