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
}
