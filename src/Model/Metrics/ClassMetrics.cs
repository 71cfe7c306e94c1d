namespace UNetCluster.Model.Metrics;

/// <summary>
/// One class's overlap between a predicted and a true class map: Dice 2|P∩T| / (|P| + |T|) and IoU |P∩T| / |P∪T|,
/// null when the class is in neither map (there is nothing to score, and a 1.0 would flatter the mean).
/// </summary>
public sealed record ClassScore(int Class, string? Name, double? Dice, double? IoU, long TruthPixels, long PredictedPixels);

/// <summary>Every class's <see cref="ClassScore"/> and the means of Dice and IoU over the foreground classes (1..C-1) that have one.</summary>
public sealed record ClassScores(IReadOnlyList<ClassScore> Classes, double? MeanDice, double? MeanIoU);

/// <summary>Per-class scores of class-index maps (one byte per pixel, the class index), as multi-class benchmarks report them.</summary>
public static class ClassMetrics
{
    /// <summary>Scores <paramref name="predicted"/> against <paramref name="truth"/> for classes 0..<paramref name="classes"/>-1.</summary>
    /// <param name="names">The classes' names by index, or null.</param>
    public static ClassScores Score(ReadOnlySpan<byte> predicted, ReadOnlySpan<byte> truth, int classes, IReadOnlyList<string>? names = null)
    {
        MaskChecks.RequireSameLength(predicted.Length, truth.Length);
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 2);
        var intersection = new long[256];
        var predictedCount = new long[256];
        var truthCount = new long[256];
        for (var i = 0; i < truth.Length; i++)
        {
            predictedCount[predicted[i]]++;
            truthCount[truth[i]]++;
            if (predicted[i] == truth[i])
            {
                intersection[truth[i]]++;
            }
        }

        var scores = Enumerable.Range(0, classes).Select(c =>
        {
            var total = predictedCount[c] + truthCount[c];
            var union = total - intersection[c];
            return new ClassScore(
                c, NameOf(names, c),
                total == 0 ? null : 2.0 * intersection[c] / total,
                union == 0 ? null : (double)intersection[c] / union,
                truthCount[c], predictedCount[c]);
        }).ToList();
        return WithMeans(scores);
    }

    /// <summary>
    /// Several images' scores together: each class's Dice and IoU averaged over the images that have one (each image
    /// counts once, as <see cref="SegmentationMetrics.Mean"/> does), pixel counts summed; null for none.
    /// </summary>
    public static ClassScores? Mean(IEnumerable<ClassScores> scores)
    {
        ArgumentNullException.ThrowIfNull(scores);
        var all = scores.ToList();
        if (all.Count == 0)
        {
            return null;
        }

        var classes = all.Max(s => s.Classes.Count);
        var mean = Enumerable.Range(0, classes).Select(c =>
        {
            var of = all.Where(s => c < s.Classes.Count).Select(s => s.Classes[c]).ToList();
            return new ClassScore(
                c, of[0].Name, Average(of.Select(s => s.Dice)), Average(of.Select(s => s.IoU)),
                of.Sum(s => s.TruthPixels), of.Sum(s => s.PredictedPixels));
        }).ToList();
        return WithMeans(mean);
    }

    private static ClassScores WithMeans(List<ClassScore> scores)
    {
        var foreground = scores.Skip(1).ToList();
        return new ClassScores(scores, Average(foreground.Select(s => s.Dice)), Average(foreground.Select(s => s.IoU)));
    }

    private static double? Average(IEnumerable<double?> values)
    {
        var present = values.Where(v => v is not null).Select(v => v!.Value).ToList();
        return present.Count == 0 ? null : present.Average();
    }

    private static string? NameOf(IReadOnlyList<string>? names, int c) => names is not null && c < names.Count ? names[c] : null;
}
