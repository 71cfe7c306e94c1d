using UNetCluster.Model.Inference;
using static TorchSharp.torch;

namespace UNetCluster.Model.Metrics;

/// <summary>
/// One labelled section's scores at each candidate decision threshold: what a validation needs to pick, over all its
/// sections together, the threshold best for any <see cref="ValidationMetric"/>. Object scores only with instance truth;
/// then each candidate is a threshold and a smallest object size (<see cref="MinObjectPixels"/>, one of
/// <see cref="ObjectSizeCandidates"/>): objects of fewer pixels are left out of the object scores, as
/// <c>predict --min-object-pixels</c> leaves them out of the labels, and the pixel scores are the threshold's.
/// </summary>
/// <param name="MinObjectPixels">The smallest object size of each candidate (same order as <paramref name="Thresholds"/>);
/// null when no objects are scored (every candidate keeps all objects).</param>
/// <param name="Contacts">For a border-class model scored against instance truth: how many of the truth's contact pixels
/// the model marks as border (the same at every threshold); null otherwise.</param>
public sealed record ThresholdSweep(string Id, double[] Thresholds, SegmentationScores[] Scores, ObjectScores[]? Objects, int[]? MinObjectPixels = null,
    ContactScore? Contacts = null)
{
    /// <summary>
    /// The smallest object sizes, in pixels, tried with instance truth: 0 (keep every object), then 4 to 32 doubling.
    /// A model's small false objects (fragments on dim images or at the edges of bright ones) cost object F1 without
    /// changing pixel scores much. Capped at 32: with 64 and 128 as candidates, 4 validation images of large nuclei chose
    /// 128 px, which on held-out images of small nuclei (120-200 px each) dropped a third of the true objects (object F1
    /// 0.745 against 0.911 at 32 px; bench/README.md, issue 16). A size relative to each image's objects is the next step.
    /// </summary>
    public static IReadOnlyList<int> ObjectSizeCandidates { get; } = [0, 4, 8, 16, 32];

    /// <summary>
    /// Scores the foreground probability (class 1 of <paramref name="probabilities"/>, (Classes, H, W)) against a 0/1
    /// <paramref name="truth"/> at each of <paramref name="thresholds"/> (default <see cref="ThresholdCalibration.Candidates"/>),
    /// and against <paramref name="instances"/> (object ids, 0 = background) when given: the objects are then those
    /// <c>predict --instances</c> writes (<see cref="Data.Labels.InstanceTargets.ObjectsFromMask"/>), while Rand error
    /// stays on the mask's components.
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
        var objects = instances is null ? null : new ObjectScores[candidates.Length * ObjectSizeCandidates.Count];
        // The truth's labels are the same at every threshold; each threshold's components serve Rand and objects both.
        var truthLabels = Data.Labels.ConnectedComponents.Label(truth, width, height, out _);
        var truthObjects = instances is null ? null : Data.Labels.ConnectedComponents.FromIds(instances, width, height);
        var mask = new byte[foreground.Length];
        for (var k = 0; k < candidates.Length; k++)
        {
            var threshold = candidates[k];
            for (var i = 0; i < mask.Length; i++)
            {
                mask[i] = foreground[i] >= threshold ? (byte)1 : (byte)0;
            }

            var predicted = Data.Labels.ConnectedComponents.Find(mask, width, height);
            scores[k] = new SegmentationScores(
                SegmentationMetrics.PixelError(mask, truth),
                SegmentationMetrics.ForegroundIoU(mask, truth),
                SegmentationMetrics.Dice(mask, truth),
                SegmentationMetrics.RandError(predicted.Labels, truthLabels));
            if (objects is not null)
            {
                // The objects predict writes: the mask's components split at distinct probability peaks.
                var labels = Data.Labels.InstanceTargets.ObjectsFromMask(mask, foreground, width, height, threshold, out var count, predicted);
                ScoreObjects(objects, k, candidates.Length, labels, count, truthObjects!.Labels, truthObjects.Count);
            }
        }

        return WithSizes(id, candidates, scores, objects);
    }

    /// <summary>
    /// Scores a model of more than two classes, which predicts each pixel's most probable class (one candidate, recorded
    /// as threshold 0.5): pixel error over the class map, Dice and IoU as the means over the foreground classes
    /// (<see cref="ClassMetrics"/>), Rand error over the foreground (any class but 0).
    /// </summary>
    public static ThresholdSweep ScoreArgMax(string id, Tensor probabilities, byte[] truth, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(probabilities);
        ArgumentNullException.ThrowIfNull(truth);
        var classes = (int)probabilities.shape[0];
        byte[] predicted;
        using (NewDisposeScope())
        {
            predicted = [.. probabilities.argmax(0).to_type(ScalarType.Byte).contiguous().data<byte>()];
        }

        MaskChecks.RequireSameLength(predicted.Length, truth.Length);
        var perClass = ClassMetrics.Score(predicted, truth, classes);
        long wrong = 0;
        for (var i = 0; i < truth.Length; i++)
        {
            wrong += predicted[i] == truth[i] ? 0 : 1;
        }

        var rand = SegmentationMetrics.RandError(
            predicted.Select(c => c == 0 ? (byte)0 : (byte)1).ToArray(), truth.Select(c => c == 0 ? (byte)0 : (byte)1).ToArray(), width, height);
        var scores = new SegmentationScores((double)wrong / truth.Length, perClass.MeanIoU ?? 0, perClass.MeanDice ?? 0, rand);
        return new ThresholdSweep(id, [0.5], [scores], null);
    }

    /// <summary>
    /// Scores a border-class model (background, interior, border) at each candidate seed threshold: its objects are
    /// seeds of interior probability at least the threshold grown over the foreground
    /// (<see cref="Data.Labels.InstanceTargets.ObjectsFromBorderProbabilities"/>), scored as foreground against the 0/1
    /// <paramref name="truth"/> and as objects against <paramref name="instances"/> when given. The foreground is the
    /// same at every threshold; the objects, hence Rand error and object scores, are not. With
    /// <paramref name="contacts"/> (1 where a true object touches another, <see cref="Data.DataSets.LabelledSection.Border"/>),
    /// also <see cref="Contacts"/>: how many of them the model gives the border as their most probable class.
    /// </summary>
    public static ThresholdSweep ScoreBorderClass(
        string id, Tensor probabilities, byte[] truth, int[]? instances, int width, int height, IReadOnlyList<double>? thresholds = null, byte[]? contacts = null)
    {
        ArgumentNullException.ThrowIfNull(probabilities);
        ArgumentNullException.ThrowIfNull(truth);
        var candidates = (thresholds ?? ThresholdCalibration.Candidates).ToArray();
        float[] background, interior;
        float[]? border;
        using (NewDisposeScope())
        {
            background = probabilities[0].contiguous().data<float>().ToArray();
            interior = probabilities[1].contiguous().data<float>().ToArray();
            border = contacts is null ? null : probabilities[2].contiguous().data<float>().ToArray();   // read only to count the contacts
        }

        MaskChecks.RequireSameLength(background.Length, truth.Length);
        var truthLabels = Data.Labels.ConnectedComponents.Label(truth, width, height, out _);
        var truthObjects = instances is null ? null : Data.Labels.ConnectedComponents.FromIds(instances, width, height);
        var scores = new SegmentationScores[candidates.Length];
        var objects = instances is null ? null : new ObjectScores[candidates.Length * ObjectSizeCandidates.Count];
        for (var k = 0; k < candidates.Length; k++)
        {
            var labels = Data.Labels.InstanceTargets.ObjectsFromBorderProbabilities(background, interior, width, height, candidates[k], out var count);
            var foreground = labels.Select(l => l == 0 ? (byte)0 : (byte)1).ToArray();
            scores[k] = new SegmentationScores(
                SegmentationMetrics.PixelError(foreground, truth),
                SegmentationMetrics.ForegroundIoU(foreground, truth),
                SegmentationMetrics.Dice(foreground, truth),
                SegmentationMetrics.RandError(labels, truthLabels));
            if (objects is not null)
            {
                ScoreObjects(objects, k, candidates.Length, labels, count, truthObjects!.Labels, truthObjects.Count);
            }
        }

        var sweep = WithSizes(id, candidates, scores, objects);
        return contacts is null ? sweep : sweep with { Contacts = ContactScore.Count(contacts, background, interior, border!) };
    }

    // Candidate (size j, threshold k) is at j * thresholds + k: sizes outermost, so that among equal candidates the
    // first, which BestThreshold keeps, has the smallest size.
    private static void ScoreObjects(ObjectScores[] objects, int k, int thresholds, int[] labels, int count, int[] truth, int truthCount)
    {
        for (var j = 0; j < ObjectSizeCandidates.Count; j++)
        {
            var kept = count;
            var size = ObjectSizeCandidates[j];
            var filtered = size > 1 ? Data.Labels.ConnectedComponents.WithoutSmall(labels, ref kept, size) : labels;
            objects[(j * thresholds) + k] = ObjectMetrics.Score(filtered, kept, truth, truthCount);
        }
    }

    private static ThresholdSweep WithSizes(string id, double[] thresholds, SegmentationScores[] scores, ObjectScores[]? objects) =>
        objects is null ? new ThresholdSweep(id, thresholds, scores, null)
            : new ThresholdSweep(id, [.. ObjectSizeCandidates.SelectMany(_ => thresholds)], [.. ObjectSizeCandidates.SelectMany(_ => scores)], objects,
                [.. ObjectSizeCandidates.SelectMany(size => thresholds.Select(_ => size))]);

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
    /// section, one column per threshold) is best; ties go to the threshold nearest 0.5 (the arg-max), then to the first
    /// (the smallest object size of a <see cref="ThresholdSweep"/> with sizes).
    /// <para>
    /// For object F1 over two or more sections, the threshold nearest 0.5 among the candidates within one standard error
    /// of that best (of the difference, paired over the sections), and at it the size best for the metric: the
    /// one-standard-error rule the checkpoint choice uses. Object F1 counts a handful of objects per section, so the top
    /// of 95 candidates scored on 4 sections is partly luck; on the nuclei benchmark the top seed threshold (0.85-0.9)
    /// cut textured held-out nuclei into fragments (bench/README.md, issue 16). Pixel and Rand error keep the plain
    /// best: the paper's weighted loss moves their best threshold away from 0.5 for a reason
    /// (<see cref="ThresholdCalibration"/>).
    /// </para>
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
        var means = Enumerable.Range(0, thresholds.Count).Select(k => values.Average(v => v[k])).ToArray();
        var top = Enumerable.Range(0, thresholds.Count)
            .OrderBy(k => sign * means[k])
            .ThenBy(k => FromHalf(thresholds[k]))
            .First();
        if (metric != ValidationMetric.ObjectF1 || values.Count < 2)
        {
            return top;
        }

        var within = Enumerable.Range(0, thresholds.Count)
            .Where(k => sign * (means[k] - means[top]) <= MeanError.Of([.. values.Select(v => v[k] - v[top])]))
            .ToArray();
        var nearest = within.Min(k => FromHalf(thresholds[k]));
        return within.Where(k => FromHalf(thresholds[k]) == nearest).OrderBy(k => sign * means[k]).ThenBy(k => k).First();
    }

    // The distance from 0.5, rounded so that 0.45 and 0.55 (sums of 0.05 steps) tie.
    private static double FromHalf(double threshold) => Math.Round(Math.Abs(threshold - 0.5), 9);
}
