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

/// <summary>
/// A predicted object that merges true objects: it covers at least half of each of <see cref="Objects"/> (two or more;
/// <see cref="ObjectScores.Merged"/> counts them). Boxes are inclusive pixel rectangles of the image.
/// </summary>
public sealed record ObjectMerge(ConnectedComponents.Box Box, long Pixels, IReadOnlyList<MergedObject> Objects);

/// <summary>A true object inside an <see cref="ObjectMerge"/>: its box, its pixels, and how many of them the merging prediction covers.</summary>
public sealed record MergedObject(ConnectedComponents.Box Box, long Pixels, long Covered);

/// <summary>The object scores of one image with the predictions that merge true objects, to look at.</summary>
public sealed record ObjectComparison(ObjectScores Scores, IReadOnlyList<ObjectMerge> Merges);

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
    public static ObjectScores Score(int[] predictedIds, int[] truthIds, int width, int height) => Compare(predictedIds, truthIds, width, height).Scores;

    /// <summary>
    /// <see cref="Score(int[], int[], int, int)"/>, and each predicted object that merges true ones with the boxes and
    /// sizes of both, so that a person can find them in the image.
    /// </summary>
    public static ObjectComparison Compare(int[] predictedIds, int[] truthIds, int width, int height)
    {
        var predicted = ConnectedComponents.FromIds(predictedIds, width, height);
        var truth = ConnectedComponents.FromIds(truthIds, width, height);
        var overlaps = Overlaps.Of(predicted.Labels, predicted.Count, truth.Labels, truth.Count);
        var merges = overlaps.Merging()
            .OrderBy(g => g.Key)
            .Select(g => new ObjectMerge(
                predicted.Boxes[g.Key - 1], overlaps.PredictedArea[g.Key],
                [.. g.OrderBy(o => o.Key.T).Select(o => new MergedObject(truth.Boxes[o.Key.T - 1], overlaps.TruthArea[o.Key.T], o.Value))]))
            .ToList();
        return new ObjectComparison(overlaps.Scores(), merges);
    }

    /// <summary><see cref="Compare(int[], int[], int, int)"/> for a predicted mask, whose objects are its 4-connected components.</summary>
    public static ObjectComparison Compare(byte[] predictedMask, int[] truthIds, int width, int height) =>
        Compare(ConnectedComponents.Label(predictedMask, width, height, out _), truthIds, width, height);

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
    public static ObjectScores Score(int[] predicted, int predictedCount, int[] truth, int truthCount) =>
        Overlaps.Of(predicted, predictedCount, truth, truthCount).Scores();

    /// <summary>The areas of the predicted and true objects (index 0: background) and the pixels each pair shares.</summary>
    private sealed record Overlaps(long[] PredictedArea, long[] TruthArea, Dictionary<(int P, int T), long> Shared)
    {
        public static Overlaps Of(int[] predicted, int predictedCount, int[] truth, int truthCount)
        {
            ArgumentNullException.ThrowIfNull(predicted);
            ArgumentNullException.ThrowIfNull(truth);
            if (predicted.Length != truth.Length)
            {
                throw new ArgumentException($"The predicted labels have {predicted.Length} pixels, the true ones {truth.Length}.", nameof(predicted));
            }

            var predictedArea = new long[predictedCount + 1];
            var truthArea = new long[truthCount + 1];
            var shared = new Dictionary<(int P, int T), long>();
            for (var i = 0; i < predicted.Length; i++)
            {
                var (p, t) = (predicted[i], truth[i]);
                predictedArea[p]++;
                truthArea[t]++;
                if (p != 0 && t != 0)
                {
                    shared[(p, t)] = shared.GetValueOrDefault((p, t)) + 1;
                }
            }

            return new Overlaps(predictedArea, truthArea, shared);
        }

        /// <summary>The predicted objects covering at least half of two or more true objects, with those true objects' overlaps.</summary>
        public IEnumerable<IGrouping<int, KeyValuePair<(int P, int T), long>>> Merging() =>
            Shared.Where(o => 2 * o.Value >= TruthArea[o.Key.T]).GroupBy(o => o.Key.P).Where(g => g.Count() > 1);

        public ObjectScores Scores()
        {
            var (predictedCount, truthCount) = (PredictedArea.Length - 1, TruthArea.Length - 1);
            var ious = Shared.Select(o => (double)o.Value / (PredictedArea[o.Key.P] + TruthArea[o.Key.T] - o.Value)).ToList();
            double F1At(double threshold) =>
                predictedCount + truthCount == 0 ? 1 : 2.0 * ious.Count(iou => iou > threshold) / (predictedCount + truthCount);

            var matched = ious.Count(iou => iou > 0.5);
            var meanF1 = Enumerable.Range(0, 10).Average(k => F1At(0.5 + (0.05 * k)));

            // A predicted object covering at least half of two true objects merges them; a true object holding at least
            // half of two predicted objects is split.
            var merged = Merging().SelectMany(g => g.Select(o => o.Key.T)).Distinct().Count();
            var split = Shared.Where(o => 2 * o.Value >= PredictedArea[o.Key.P]).GroupBy(o => o.Key.T).Count(g => g.Count() > 1);
            return new ObjectScores(
                truthCount, predictedCount, matched,
                predictedCount == 0 ? (truthCount == 0 ? 1 : 0) : (double)matched / predictedCount,
                truthCount == 0 ? (predictedCount == 0 ? 1 : 0) : (double)matched / truthCount,
                F1At(0.5), meanF1, merged, split);
        }
    }
}
