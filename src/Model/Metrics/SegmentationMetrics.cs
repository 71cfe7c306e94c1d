using UNetCluster.Data.Labels;
using System.Runtime.InteropServices;

namespace UNetCluster.Model.Metrics;

/// <summary>
/// Scores of a predicted binary mask against the truth, on plain row-major byte masks (index <c>y * width + x</c>).
/// A pixel is foreground (cell interior, ISBI 2012 value 255) when its byte is non-zero and background (membrane)
/// when it is 0, so 0/1 and 0/255 masks score the same.
/// </summary>
public static class SegmentationMetrics
{
    /// <summary>The fraction of pixels whose class (foreground or background) differs between the two masks.</summary>
    public static double PixelError(ReadOnlySpan<byte> predicted, ReadOnlySpan<byte> truth)
    {
        MaskChecks.RequireSameLength(predicted.Length, truth.Length);
        var differing = 0L;
        for (var i = 0; i < truth.Length; i++)
        {
            if ((predicted[i] != 0) != (truth[i] != 0))
            {
                differing++;
            }
        }

        return (double)differing / truth.Length;
    }

    /// <summary>
    /// Intersection over union of the foregrounds, |P ∩ T| / |P ∪ T|; 1.0 when neither mask has any foreground
    /// (an empty prediction of an empty truth is perfect).
    /// </summary>
    public static double ForegroundIoU(ReadOnlySpan<byte> predicted, ReadOnlySpan<byte> truth)
    {
        var (intersection, predictedCount, truthCount) = CountForeground(predicted, truth);
        var union = predictedCount + truthCount - intersection;
        return union == 0 ? 1.0 : (double)intersection / union;
    }

    /// <summary>
    /// The Dice coefficient of the foregrounds, 2|P ∩ T| / (|P| + |T|); 1.0 when neither mask has any foreground.
    /// </summary>
    public static double Dice(ReadOnlySpan<byte> predicted, ReadOnlySpan<byte> truth)
    {
        var (intersection, predictedCount, truthCount) = CountForeground(predicted, truth);
        var total = predictedCount + truthCount;
        return total == 0 ? 1.0 : 2.0 * intersection / total;
    }

    /// <summary>
    /// The ISBI 2012 challenge's foreground-restricted Rand error, 1 − V_rand, of two binary masks.
    /// </summary>
    /// <remarks>
    /// <para>
    /// Both masks are first turned into label images: the 4-connected components of the foreground get labels
    /// 1..n (see <see cref="ConnectedComponents"/>) and background pixels get label 0. The score then follows
    /// scikit-image's <c>skimage.metrics.adapted_rand_error(image_true, image_test)</c> with its defaults
    /// (<c>ignore_labels=(0,)</c>, <c>alpha=0.5</c>) exactly; see <see cref="RandError(ReadOnlySpan{int}, ReadOnlySpan{int})"/>.
    /// </para>
    /// <para>
    /// In consequence, pixels that are background in the truth (membranes) are ignored, and the predicted
    /// background pixels that fall inside true cells form one predicted segment, label 0, like any other label.
    /// (The SNEMI3D/CREMI scripts instead count each of those pixels as a singleton segment; the two agree
    /// whenever the prediction's background lies on the truth's background.)
    /// </para>
    /// </remarks>
    public static double RandError(ReadOnlySpan<byte> predicted, ReadOnlySpan<byte> truth, int width, int height)
    {
        MaskChecks.RequireSameLength(predicted.Length, truth.Length);
        MaskChecks.RequireSize(truth.Length, width, height, nameof(truth));
        var predictedLabels = ConnectedComponents.Label(predicted, width, height, out _);
        var truthLabels = ConnectedComponents.Label(truth, width, height, out _);
        return RandError(predictedLabels, truthLabels);
    }

    /// <summary>
    /// The adapted Rand error of two label images, defined as scikit-image's
    /// <c>skimage.metrics.adapted_rand_error(image_true=truthLabels, image_test=predictedLabels)</c> with
    /// <c>ignore_labels=(0,)</c> and <c>alpha=0.5</c>.
    /// </summary>
    /// <remarks>
    /// <para>
    /// Over the pixels whose truth label is not 0 (N of them), let n_ij count the pixels with truth label i and
    /// predicted label j (predicted label 0 is an ordinary label here), t_i = Σ_j n_ij and s_j = Σ_i n_ij. With
    /// pair counts that exclude a pixel paired with itself, as scikit-image computes them,
    /// </para>
    /// <code>
    /// P = Σ_ij n_ij² − N,   T = Σ_i t_i² − N,   S = Σ_j s_j² − N
    /// V_rand = P / (0.5 S + 0.5 T)        (the F-score of Rand split, P / T, and Rand merge, P / S)
    /// RandError = 1 − V_rand
    /// </code>
    /// <para>
    /// P / T is the fraction of same-object pixel pairs of the truth that the prediction keeps together (a
    /// split lowers it), P / S the fraction of the prediction's same-segment pairs that the truth agrees with (a
    /// merge lowers it). Where scikit-image divides 0 by 0 (no pair of truth-foreground pixels shares a label in
    /// either image, e.g. no truth foreground at all) this returns 0: there is no pair to get wrong.
    /// </para>
    /// </remarks>
    public static double RandError(ReadOnlySpan<int> predictedLabels, ReadOnlySpan<int> truthLabels)
    {
        MaskChecks.RequireSameLength(predictedLabels.Length, truthLabels.Length);

        var joint = new Dictionary<long, long>();
        var truthSizes = new Dictionary<int, long>();
        var predictedSizes = new Dictionary<int, long>();
        var counted = 0L;
        for (var i = 0; i < truthLabels.Length; i++)
        {
            var t = truthLabels[i];
            if (t == 0)
            {
                continue;
            }

            var p = predictedLabels[i];
            counted++;
            Increment(joint, ((long)t << 32) | (uint)p);
            Increment(truthSizes, t);
            Increment(predictedSizes, p);
        }

        // Pairs sharing a label, self-pairs excluded. A span holds at most 2^31 pixels, so the squares fit a long.
        var together = SumOfSquares(joint.Values) - counted;
        var truthPairs = SumOfSquares(truthSizes.Values) - counted;
        var predictedPairs = SumOfSquares(predictedSizes.Values) - counted;
        var denominator = 0.5 * predictedPairs + 0.5 * truthPairs;
        return denominator == 0 ? 0.0 : 1.0 - together / denominator;
    }

    /// <summary>
    /// All four scores of one mask: <see cref="PixelError"/>, <see cref="ForegroundIoU"/>, <see cref="Dice"/> and
    /// <see cref="RandError(ReadOnlySpan{byte}, ReadOnlySpan{byte}, int, int)"/>.
    /// </summary>
    public static SegmentationScores Score(ReadOnlySpan<byte> predicted, ReadOnlySpan<byte> truth, int width, int height)
    {
        MaskChecks.RequireSameLength(predicted.Length, truth.Length);
        MaskChecks.RequireSize(truth.Length, width, height, nameof(truth));
        return new SegmentationScores(
            PixelError(predicted, truth),
            ForegroundIoU(predicted, truth),
            Dice(predicted, truth),
            RandError(predicted, truth, width, height));
    }

    /// <summary>
    /// The unweighted mean of each score over the masks (each mask counts once, whatever its size), as the ISBI
    /// 2012 challenge averages over its test sections.
    /// </summary>
    public static SegmentationScores Mean(IEnumerable<SegmentationScores> scores)
    {
        ArgumentNullException.ThrowIfNull(scores);
        double pixelError = 0, iou = 0, dice = 0, randError = 0;
        var count = 0;
        foreach (var score in scores)
        {
            ArgumentNullException.ThrowIfNull(score, nameof(scores));
            pixelError += score.PixelError;
            iou += score.ForegroundIoU;
            dice += score.Dice;
            randError += score.RandError;
            count++;
        }

        if (count == 0)
        {
            throw new ArgumentException("There are no scores to average.", nameof(scores));
        }

        return new SegmentationScores(pixelError / count, iou / count, dice / count, randError / count);
    }

    /// <summary>Foreground pixels of both masks, of the prediction and of the truth (non-zero = foreground).</summary>
    public static (long Intersection, long Predicted, long Truth) CountForeground(
        ReadOnlySpan<byte> predicted, ReadOnlySpan<byte> truth)
    {
        MaskChecks.RequireSameLength(predicted.Length, truth.Length);
        long intersection = 0, predictedCount = 0, truthCount = 0;
        for (var i = 0; i < truth.Length; i++)
        {
            var p = predicted[i] != 0;
            var t = truth[i] != 0;
            if (p)
            {
                predictedCount++;
            }

            if (t)
            {
                truthCount++;
            }

            if (p && t)
            {
                intersection++;
            }
        }

        return (intersection, predictedCount, truthCount);
    }

    private static void Increment<TKey>(Dictionary<TKey, long> counts, TKey key)
        where TKey : notnull
    {
        CollectionsMarshal.GetValueRefOrAddDefault(counts, key, out _)++;
    }

    private static long SumOfSquares(IEnumerable<long> values)
    {
        var sum = 0L;
        foreach (var value in values)
        {
            sum += value * value;
        }

        return sum;
    }
}
