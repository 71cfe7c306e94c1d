using UNetCluster.Model.Inference;
using static TorchSharp.torch;

namespace UNetCluster.Model.Metrics;

/// <summary>
/// One labelled section's scores at each candidate decision threshold: what a validation needs to pick, over all its
/// sections together, the threshold best for any <see cref="ValidationMetric"/>. Object scores only with instance truth.
/// </summary>
public sealed record ThresholdSweep(string Id, double[] Thresholds, SegmentationScores[] Scores, ObjectScores[]? Objects)
{
    /// <summary>
    /// Scores the foreground probability (class 1 of <paramref name="probabilities"/>, (Classes, H, W)) against a 0/1
    /// <paramref name="truth"/> at each of <paramref name="thresholds"/> (default <see cref="ThresholdCalibration.Candidates"/>),
    /// and against <paramref name="instances"/> (object ids, 0 = background) when given.
    /// </summary>
    public static ThresholdSweep Score(string id, Tensor probabilities, byte[] truth, int[]? instances, int width, int height, IReadOnlyList<double>? thresholds = null)
    {
        ArgumentNullException.ThrowIfNull(probabilities);
        ArgumentNullException.ThrowIfNull(truth);
        var candidates = (thresholds ?? ThresholdCalibration.Candidates).ToArray();
        float[] foreground;
        using (NewDisposeScope())
        {
            foreground = probabilities[1].contiguous().data<float>().ToArray();
        }

        MaskChecks.RequireSameLength(foreground.Length, truth.Length);
        var scores = new SegmentationScores[candidates.Length];
        var objects = instances is null ? null : new ObjectScores[candidates.Length];
        var mask = new byte[foreground.Length];
        for (var k = 0; k < candidates.Length; k++)
        {
            var threshold = candidates[k];
            for (var i = 0; i < mask.Length; i++)
            {
                mask[i] = foreground[i] >= threshold ? (byte)1 : (byte)0;
            }

            scores[k] = SegmentationMetrics.Score(mask, truth, width, height);
            if (objects is not null)
            {
                objects[k] = ObjectMetrics.Score(mask, instances!, width, height);
            }
        }

        return new ThresholdSweep(id, candidates, scores, objects);
    }

    /// <summary>The value of <paramref name="metric"/> at each threshold (NaN for object F1 without instance truth).</summary>
    public double[] Values(ValidationMetric metric) => metric switch
    {
        ValidationMetric.PixelError => [.. Scores.Select(s => s.PixelError)],
        ValidationMetric.RandError => [.. Scores.Select(s => s.RandError)],
        ValidationMetric.Dice => [.. Scores.Select(s => s.Dice)],
        ValidationMetric.IoU => [.. Scores.Select(s => s.ForegroundIoU)],
        ValidationMetric.ObjectF1 => Objects is null ? [.. Thresholds.Select(_ => double.NaN)] : [.. Objects.Select(o => o.F1)],
        _ => throw new ArgumentOutOfRangeException(nameof(metric), metric, "Unknown validation metric."),
    };

    /// <summary>
    /// The index of the threshold whose mean <paramref name="metric"/> over <paramref name="values"/> (one row per
    /// section, one column per threshold) is best; ties go to the threshold nearest 0.5 (the arg-max).
    /// </summary>
    public static int BestThreshold(IReadOnlyList<double> thresholds, IReadOnlyList<double[]> values, ValidationMetric metric)
    {
        ArgumentNullException.ThrowIfNull(thresholds);
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0)
        {
            throw new ArgumentException("Choosing a threshold needs at least one scored section.", nameof(values));
        }

        var sign = metric.LowerIsBetter() ? 1.0 : -1.0;
        return Enumerable.Range(0, thresholds.Count)
            .OrderBy(k => sign * values.Average(v => v[k]))
            .ThenBy(k => Math.Abs(thresholds[k] - 0.5))
            .First();
    }
}
