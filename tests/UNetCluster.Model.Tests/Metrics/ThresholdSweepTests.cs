using UNetCluster.Model.Metrics;
using static TorchSharp.torch;

namespace UNetCluster.Model.Tests.Metrics;

public sealed class ThresholdSweepTests
{
    [Fact]
    public void Score_EachThreshold_EqualsTheMetricsOfThatThresholdsMask()
    {
        // An 8x8 image: two touching true objects (ids 1 and 2) in the left half; the foreground probability is high on
        // them, lower on the seam between them and on a false blob on the right.
        const int size = 8;
        var instances = new int[size * size];
        var probability = new float[size * size];
        for (var y = 1; y < 7; y++)
        {
            for (var x = 1; x < 4; x++)
            {
                instances[(y * size) + x] = y < 4 ? 1 : 2;
                probability[(y * size) + x] = y is 3 or 4 ? 0.55f : 0.9f;
            }
        }

        probability[(2 * size) + 6] = 0.35f;
        var truth = instances.Select(i => i == 0 ? (byte)0 : (byte)1).ToArray();
        using var foreground = tensor(probability).reshape(size, size);
        using var probabilities = stack([1 - foreground, foreground]);
        double[] thresholds = [0.3, 0.5, 0.6];

        var sweep = ThresholdSweep.Score("s", probabilities, truth, instances, size, size, thresholds);

        for (var k = 0; k < thresholds.Length; k++)
        {
            var mask = probability.Select(p => p >= thresholds[k] ? (byte)1 : (byte)0).ToArray();
            Assert.Equal(SegmentationMetrics.Score(mask, truth, size, size), sweep.Scores[k]);
            Assert.Equal(ObjectMetrics.Score(mask, instances, size, size), sweep.Objects![k]);
        }

        // At 0.6 the seam opens: the two objects are found apart (F1 1), at 0.5 they merge and the blob is gone.
        Assert.Equal(1.0, sweep.Objects![2].F1);
        Assert.Equal(2, sweep.Objects[1].Merged);
        Assert.Equal(2, ThresholdSweep.BestThreshold(thresholds, [sweep.Values(ValidationMetric.ObjectF1)], ValidationMetric.ObjectF1));
        Assert.Equal(1, ThresholdSweep.BestThreshold(thresholds, [sweep.Values(ValidationMetric.PixelError)], ValidationMetric.PixelError));
    }

    [Fact]
    public void Score_WithInstances_SweepsTheSmallestObjectSizeAndTheBestLeavesTheFragmentsOut()
    {
        // A 12x12 image: two true 4x4 objects, predicted exactly, and three false fragments of 1, 2 and 6 pixels.
        const int size = 12;
        var instances = new int[size * size];
        var probability = new float[size * size];
        foreach (var (top, left, id) in new[] { (1, 1, 1), (6, 6, 2) })
        {
            for (var y = top; y < top + 4; y++)
            {
                for (var x = left; x < left + 4; x++)
                {
                    instances[(y * size) + x] = id;
                    probability[(y * size) + x] = 0.9f;
                }
            }
        }

        foreach (var i in new[] { (1 * size) + 9, (10 * size) + 1, (10 * size) + 2, (6 * size) + 11, (7 * size) + 11, (8 * size) + 11, (9 * size) + 11, (10 * size) + 11, (11 * size) + 11 })
        {
            probability[i] = 0.9f;
        }

        var truth = instances.Select(i => i == 0 ? (byte)0 : (byte)1).ToArray();
        using var foreground = tensor(probability).reshape(size, size);
        using var probabilities = stack([1 - foreground, foreground]);
        double[] thresholds = [0.5, 0.95];

        var sweep = ThresholdSweep.Score("s", probabilities, truth, instances, size, size, thresholds);

        // Every size with every threshold, sizes outermost; the pixel scores are the threshold's whatever the size.
        var sizes = ThresholdSweep.ObjectSizeCandidates;
        Assert.Equal(sizes.SelectMany(s => thresholds.Select(_ => s)), sweep.MinObjectPixels!);
        Assert.Equal(sizes.SelectMany(_ => thresholds), sweep.Thresholds);
        Assert.All(sweep.Scores.Where((_, k) => k % 2 == 0), s => Assert.Equal(sweep.Scores[0], s));
        Assert.Equal(5, sweep.Objects![0].Predicted);              // size 0: 2 objects and 3 fragments
        Assert.Equal(2.0 * 2 / (2 + 5), sweep.Objects[0].F1, 6);
        Assert.Equal(3, sweep.Objects[2].Predicted);               // size 4 leaves out the 1- and 2-pixel fragments
        Assert.Equal((2, 1.0), (sweep.Objects[4].Predicted, sweep.Objects[4].F1));   // size 8 the 6-pixel one too
        Assert.Equal(1.0, sweep.Objects[6].F1);                    // size 16 keeps the 16-pixel objects...
        Assert.Equal((0, 0.0), (sweep.Objects[8].Predicted, sweep.Objects[8].F1));   // ...size 32 does not

        // Object F1 picks size 8 at threshold 0.5, the smallest that drops every fragment; pixel error keeps size 0.
        var best = ThresholdSweep.BestThreshold(sweep.Thresholds, [sweep.Values(ValidationMetric.ObjectF1)], ValidationMetric.ObjectF1);
        Assert.Equal((8, 0.5), (sweep.MinObjectPixels![best], sweep.Thresholds[best]));
        var byPixels = ThresholdSweep.BestThreshold(sweep.Thresholds, [sweep.Values(ValidationMetric.PixelError)], ValidationMetric.PixelError);
        Assert.Equal(0, sweep.MinObjectPixels[byPixels]);
    }

    [Fact]
    public void Score_WithoutInstances_HasOneCandidatePerThresholdAndNoSizes()
    {
        using var probabilities = stack([zeros(4, 4), ones(4, 4)]);

        var sweep = ThresholdSweep.Score("s", probabilities, new byte[16], null, 4, 4, [0.3, 0.6]);

        Assert.Equal([0.3, 0.6], sweep.Thresholds);
        Assert.Null(sweep.MinObjectPixels);
        Assert.Null(sweep.Objects);
    }

    [Fact]
    public void ScoreBorderClass_WithContacts_CountsThoseTheModelMarksAsBorder()
    {
        // A 6x4 image: object 1 in columns 0-2, object 2 in columns 3-4, column 5 background. The contacts are columns 2
        // and 3 (8 pixels; the truth's objects without them, as a labelled section holds them); the model marks column 2
        // as border in rows 0-2 (3 pixels) and nowhere else, and calls an object's pixel beside the background (column 4)
        // border too, which is no contact.
        const int width = 6, height = 4;
        var instances = new int[width * height];
        var probabilities = new float[3 * width * height];
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var i = (y * width) + x;
                instances[i] = x < 3 ? 1 : x < 5 ? 2 : 0;
                var border = (x == 2 && y < 3) || x == 4;
                var (b, interior, edge) = x == 5 ? (0.9f, 0.05f, 0.05f) : border ? (0.1f, 0.3f, 0.6f) : (0.1f, 0.8f, 0.1f);
                (probabilities[i], probabilities[(width * height) + i], probabilities[(2 * width * height) + i]) = (b, interior, edge);
            }
        }

        var contacts = instances.Select((_, i) => i % width is 2 or 3 ? (byte)1 : (byte)0).ToArray();
        var objects = instances.Select((id, i) => contacts[i] == 1 ? 0 : id).ToArray();
        var truth = objects.Select(id => id == 0 ? (byte)0 : (byte)1).ToArray();
        using var maps = tensor(probabilities, [3, height, width]);

        var scored = ThresholdSweep.ScoreBorderClass("s", maps, truth, objects, width, height, [0.5], contacts);
        var without = ThresholdSweep.ScoreBorderClass("s", maps, truth, objects, width, height, [0.5]);

        Assert.Equal(new ContactScore(8, 3), scored.Contacts);
        Assert.Equal(3.0 / 8, scored.Contacts!.Share);
        Assert.Null(without.Contacts);
        Assert.Null(new ContactScore(0, 0).Share);   // no two objects touch: nothing to learn the border from
    }

    [Fact]
    public void BestThreshold_ObjectF1OverSections_TakesTheThresholdNearestHalfWithinOneStandardError()
    {
        // Three sections at thresholds 0.5, 0.7, 0.9; 0.9 has the best mean (0.92). Against it, 0.5 loses 0.10-0.12 on
        // every section (mean 0.11, paired error 0.006): clearly worse. 0.7 loses 0.03 and 0.01 and gains 0.01 (mean
        // 0.01, paired error 0.012): within one standard error, and nearer 0.5, so it is taken.
        double[] thresholds = [0.5, 0.7, 0.9];
        double[][] values = [[0.80, 0.89, 0.92], [0.82, 0.94, 0.93], [0.81, 0.90, 0.91]];

        Assert.Equal(1, ThresholdSweep.BestThreshold(thresholds, values, ValidationMetric.ObjectF1));

        // Where the sections disagree (0.5 loses 0.15 and 0.05 and gains 0.10: paired error 0.073 against a mean loss
        // of 0.033), 0.5 itself is within one standard error and taken.
        double[][] disagree = [[0.80, 0.90, 0.95], [0.95, 0.90, 0.85], [0.85, 0.88, 0.90]];
        Assert.Equal(0, ThresholdSweep.BestThreshold(thresholds, disagree, ValidationMetric.ObjectF1));

        // One section has no spread to measure, and pixel and Rand error keep the plain best (lowest) at any spread.
        Assert.Equal(2, ThresholdSweep.BestThreshold(thresholds, [values[0]], ValidationMetric.ObjectF1));
        double[][] errors = [.. disagree.Select(v => v.Select(f => 1 - f).ToArray())];
        Assert.Equal(2, ThresholdSweep.BestThreshold(thresholds, errors, ValidationMetric.PixelError));
        Assert.Equal(2, ThresholdSweep.BestThreshold(thresholds, errors, ValidationMetric.RandError));
    }

    [Fact]
    public void BestThreshold_ObjectF1WithSizes_TakesTheBestSizeAtTheThresholdNearestHalf()
    {
        // Candidates (size, threshold): (0, 0.5) (0, 0.9) (16, 0.5) (16, 0.9); (16, 0.9) is best. At 0.5 both sizes are
        // within one standard error of it (the sections disagree); of those, size 16 has the better mean.
        double[] thresholds = [0.5, 0.9, 0.5, 0.9];
        double[][] values = [[0.80, 0.95, 0.84, 0.96], [0.95, 0.85, 0.97, 0.86], [0.85, 0.90, 0.86, 0.91]];

        Assert.Equal(2, ThresholdSweep.BestThreshold(thresholds, values, ValidationMetric.ObjectF1));
    }
}
