using UNetCluster.Data.Labels;

namespace UNetCluster.Model.Metrics;

/// <summary>
/// Object-level scores of a predicted segmentation against instance ground truth, as nuclei benchmarks report them.
/// <see cref="Matched"/> pairs a predicted and a true object whose IoU is above 0.5 (such a pair is unique: an object
/// cannot overlap two others by more than half); <see cref="MeanF1"/> averages F1 over IoU thresholds 0.5, 0.55, ...,
/// 0.95. <see cref="Merged"/> counts true objects that share a predicted object with another true object (the
/// prediction covers at least half of each); <see cref="Split"/> counts true objects that hold at least half of two or
/// more predicted objects.
/// </summary>
public sealed record ObjectScores(int Truth, int Predicted, int Matched, double Precision, double Recall, double F1, double MeanF1, int Merged, int Split);

/// <summary>Computes <see cref="ObjectScores"/> from object labels (0 = background, 1..N the objects).</summary>
public static class ObjectMetrics
{
    /// <summary>
    /// Scores predicted objects (the 4-connected components of <paramref name="predictedMask"/>'s foreground) against
    /// the true objects <paramref name="truthIds"/> (an id per pixel, 0 = background).
    /// </summary>
    public static ObjectScores Score(byte[] predictedMask, int[] truthIds, int width, int height) =>
        Score(ConnectedComponents.Label(predictedMask, width, height, out _), truthIds, width, height);

    /// <summary>
    /// Scores the predicted objects <paramref name="predictedIds"/> (an id per pixel, 0 = background, e.g. the labels of
    /// <c>{name}.instances.png</c>, where touching objects keep apart) against the true objects
    /// <paramref name="truthIds"/>; both are read as <see cref="ConnectedComponents.FromIds"/> reads an instance mask.
    /// </summary>
    public static ObjectScores Score(int[] predictedIds, int[] truthIds, int width, int height)
    {
        var predicted = ConnectedComponents.FromIds(predictedIds, width, height);
        var truth = ConnectedComponents.FromIds(truthIds, width, height);
        return Score(predicted.Labels, predicted.Count, truth.Labels, truth.Count);
    }

    /// <summary>
    /// Several images' scores together: counts summed, precision, recall and F1 averaged per image (as
    /// <see cref="SegmentationMetrics.Mean"/> averages pixel scores); null for none.
    /// </summary>
    public static ObjectScores? Mean(IEnumerable<ObjectScores> scores)
    {
        ArgumentNullException.ThrowIfNull(scores);
        var all = scores.ToList();
        return all.Count == 0 ? null : new ObjectScores(
            all.Sum(s => s.Truth), all.Sum(s => s.Predicted), all.Sum(s => s.Matched),
            all.Average(s => s.Precision), all.Average(s => s.Recall), all.Average(s => s.F1),
            all.Average(s => s.MeanF1), all.Sum(s => s.Merged), all.Sum(s => s.Split));
    }

    /// <summary>Scores labelled predicted objects 1..<paramref name="predictedCount"/> against true ones 1..<paramref name="truthCount"/>.</summary>
    public static ObjectScores Score(int[] predicted, int predictedCount, int[] truth, int truthCount)
    {
        ArgumentNullException.ThrowIfNull(predicted);
        ArgumentNullException.ThrowIfNull(truth);
        if (predicted.Length != truth.Length)
        {
            throw new ArgumentException($"The predicted labels have {predicted.Length} pixels, the true ones {truth.Length}.", nameof(predicted));
        }

        var predictedArea = new long[predictedCount + 1];
        var truthArea = new long[truthCount + 1];
        var overlap = new Dictionary<(int P, int T), long>();
        for (var i = 0; i < predicted.Length; i++)
        {
            var (p, t) = (predicted[i], truth[i]);
            predictedArea[p]++;
            truthArea[t]++;
            if (p != 0 && t != 0)
            {
                overlap[(p, t)] = overlap.GetValueOrDefault((p, t)) + 1;
            }
        }

        var ious = overlap.Select(o => (double)o.Value / (predictedArea[o.Key.P] + truthArea[o.Key.T] - o.Value)).ToList();
        double F1At(double threshold) =>
            predictedCount + truthCount == 0 ? 1 : 2.0 * ious.Count(iou => iou > threshold) / (predictedCount + truthCount);

        var matched = ious.Count(iou => iou > 0.5);
        var meanF1 = Enumerable.Range(0, 10).Average(k => F1At(0.5 + (0.05 * k)));

        // A predicted object covering at least half of two true objects merges them; a true object holding at least
        // half of two predicted objects is split.
        var covering = overlap.Where(o => 2 * o.Value >= truthArea[o.Key.T]).GroupBy(o => o.Key.P).Where(g => g.Count() > 1);
        var merged = covering.SelectMany(g => g.Select(o => o.Key.T)).Distinct().Count();
        var split = overlap.Where(o => 2 * o.Value >= predictedArea[o.Key.P]).GroupBy(o => o.Key.T).Count(g => g.Count() > 1);
        return new ObjectScores(
            truthCount, predictedCount, matched,
            predictedCount == 0 ? (truthCount == 0 ? 1 : 0) : (double)matched / predictedCount,
            truthCount == 0 ? (predictedCount == 0 ? 1 : 0) : (double)matched / truthCount,
            F1At(0.5), meanF1, merged, split);
    }
}
