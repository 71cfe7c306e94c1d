using UNetCluster.Model.Metrics;

namespace UNetCluster.Model.Tests.Metrics;

public sealed class SegmentationMetricsTests
{
    private const double Tolerance = 1e-12;

    // A 4x4 example. Truth T is a 2x2 square (4 pixels); the prediction P has 5 foreground pixels:
    //   truth       predicted
    //   1 1 0 0     1 1 1 0
    //   1 1 0 0     1 0 0 0
    //   0 0 0 0     0 0 0 0
    //   0 0 0 0     0 0 0 1
    // |P ∩ T| = 3, |P ∪ T| = 6, pixels that differ: (2,0), (1,1), (3,3) = 3 of 16.
    private static readonly byte[] FourByFourTruth =
    [
        1, 1, 0, 0,
        1, 1, 0, 0,
        0, 0, 0, 0,
        0, 0, 0, 0,
    ];

    private static readonly byte[] FourByFourPredicted =
    [
        1, 1, 1, 0,
        1, 0, 0, 0,
        0, 0, 0, 0,
        0, 0, 0, 1,
    ];

    // Two 2x2 cells separated by a one-pixel membrane column (5x2 image, 8 foreground pixels).
    private static readonly byte[] TwoCells =
    [
        1, 1, 0, 1, 1,
        1, 1, 0, 1, 1,
    ];

    private static readonly byte[] OneCell =
    [
        1, 1, 1, 1, 1,
        1, 1, 1, 1, 1,
    ];

    [Fact]
    public void PixelError_FourByFourExample_ThreeOfSixteen()
    {
        Assert.Equal(3.0 / 16, SegmentationMetrics.PixelError(FourByFourPredicted, FourByFourTruth), Tolerance);
    }

    [Fact]
    public void ForegroundIoU_FourByFourExample_ThreeOfSix()
    {
        Assert.Equal(0.5, SegmentationMetrics.ForegroundIoU(FourByFourPredicted, FourByFourTruth), Tolerance);
    }

    [Fact]
    public void Dice_FourByFourExample_TwoThirds()
    {
        // 2 * 3 / (5 + 4) = 6 / 9.
        Assert.Equal(2.0 / 3, SegmentationMetrics.Dice(FourByFourPredicted, FourByFourTruth), Tolerance);
    }

    [Fact]
    public void Score_TruthStoredAs255_SameScoresAsOnes()
    {
        // The ISBI masks store cells as 255; a prediction of 0/1 must score as if the truth were 0/1.
        var truth255 = FourByFourTruth.Select(v => (byte)(v * 255)).ToArray();

        var fromOnes = SegmentationMetrics.Score(FourByFourPredicted, FourByFourTruth, 4, 4);
        var from255 = SegmentationMetrics.Score(FourByFourPredicted, truth255, 4, 4);

        Assert.Equal(fromOnes, from255);
        Assert.Equal(3.0 / 16, from255.PixelError, Tolerance);
    }

    [Fact]
    public void Score_BothMasksWithoutForeground_PerfectScores()
    {
        var empty = new byte[16];

        var scores = SegmentationMetrics.Score(empty, empty, 4, 4);

        Assert.Equal(new SegmentationScores(PixelError: 0, ForegroundIoU: 1, Dice: 1, RandError: 0), scores);
    }

    [Fact]
    public void Score_PredictionMissesAllForeground_ZeroOverlap()
    {
        var empty = new byte[16];

        var scores = SegmentationMetrics.Score(empty, FourByFourTruth, 4, 4);

        Assert.Equal(0.0, scores.ForegroundIoU);
        Assert.Equal(0.0, scores.Dice);
        Assert.Equal(4.0 / 16, scores.PixelError, Tolerance);
    }

    [Fact]
    public void RandError_PerfectPrediction_Zero()
    {
        Assert.Equal(0.0, SegmentationMetrics.RandError(TwoCells, TwoCells, 5, 2), Tolerance);
    }

    [Fact]
    public void RandError_OneCellSplitInTwo_SixteenTwentyNinths()
    {
        // Truth: one cell of N = 10 pixels. Prediction: the middle column is background, leaving segments
        // A (4 px), predicted background 0 (2 px) and B (4 px), all inside the one true cell.
        //   P = Σ n_ij² − N = 16 + 4 + 16 − 10 = 26
        //   T = Σ t_i² − N  = 100 − 10       = 90
        //   S = Σ s_j² − N  = 16 + 4 + 16 − 10 = 26
        //   error = 1 − 26 / (0.5·26 + 0.5·90) = 1 − 26/58 = 16/29 ≈ 0.5517
        Assert.Equal(16.0 / 29, SegmentationMetrics.RandError(TwoCells, OneCell, 5, 2), Tolerance);
    }

    [Fact]
    public void RandError_TwoCellsMerged_TwoFifths()
    {
        // Truth: two cells of 4 pixels; the membrane column between them is ignored, so N = 8. Prediction: one
        // segment covering both.
        //   P = 16 + 16 − 8 = 24,   T = 16 + 16 − 8 = 24,   S = 64 − 8 = 56
        //   error = 1 − 24 / (0.5·56 + 0.5·24) = 1 − 24/40 = 0.4
        Assert.Equal(0.4, SegmentationMetrics.RandError(OneCell, TwoCells, 5, 2), Tolerance);
    }

    [Fact]
    public void RandError_PredictionAllBackground_ScoredAsOneMergedSegment()
    {
        // scikit-image semantics: predicted label 0 is an ordinary label, so the predicted background covering both
        // true cells is one segment and scores exactly as the merge above (0.4), although the pixel error is 1.
        var allBackground = new byte[10];

        Assert.Equal(0.4, SegmentationMetrics.RandError(allBackground, TwoCells, 5, 2), Tolerance);
    }

    [Fact]
    public void RandError_ThinnerPredictedMembrane_IgnoredButPixelErrorCounts()
    {
        // Truth: two cells separated by a two-pixel membrane. The prediction gives the left cell one of the
        // membrane columns: the cells stay apart, and pixels that are membrane in the truth are not scored.
        byte[] truth =
        [
            1, 1, 0, 0, 1, 1,
            1, 1, 0, 0, 1, 1,
        ];
        byte[] predicted =
        [
            1, 1, 1, 0, 1, 1,
            1, 1, 1, 0, 1, 1,
        ];

        var scores = SegmentationMetrics.Score(predicted, truth, 6, 2);

        Assert.Equal(0.0, scores.RandError, Tolerance);
        Assert.Equal(2.0 / 12, scores.PixelError, Tolerance);
    }

    [Fact]
    public void RandError_LabelImages_MatchesScikitImageExample()
    {
        // scikit-image's own test: adapted_rand_error([[2, 1], [1, 2]], [[1, 2], [3, 1]]) -> 0.3333333.
        // n(2,1) = 2, n(1,2) = 1, n(1,3) = 1: P = 6 − 4 = 2, T = 8 − 4 = 4, S = 6 − 4 = 2, 1 − 2/3 = 1/3.
        int[] truth = [2, 1, 1, 2];
        int[] predicted = [1, 2, 3, 1];

        Assert.Equal(1.0 / 3, SegmentationMetrics.RandError(predicted, truth), Tolerance);
    }

    [Fact]
    public void RandError_MasksOfDifferentSizes_Throws()
    {
        Assert.Throws<ArgumentException>(() => SegmentationMetrics.RandError(new byte[10], new byte[12], 5, 2));
    }

    [Fact]
    public void Score_WidthTimesHeightDisagreesWithMasks_Throws()
    {
        Assert.Throws<ArgumentException>(() => SegmentationMetrics.Score(TwoCells, TwoCells, 4, 2));
    }

    [Fact]
    public void Mean_TwoMasks_AveragesEachScore()
    {
        var first = new SegmentationScores(PixelError: 0.1, ForegroundIoU: 0.8, Dice: 0.9, RandError: 0.2);
        var second = new SegmentationScores(PixelError: 0.3, ForegroundIoU: 0.6, Dice: 0.7, RandError: 0.4);

        var mean = SegmentationMetrics.Mean([first, second]);

        Assert.Equal(0.2, mean.PixelError, Tolerance);
        Assert.Equal(0.7, mean.ForegroundIoU, Tolerance);
        Assert.Equal(0.8, mean.Dice, Tolerance);
        Assert.Equal(0.3, mean.RandError, Tolerance);
    }

    [Fact]
    public void Mean_NoScores_Throws()
    {
        Assert.Throws<ArgumentException>(() => SegmentationMetrics.Mean([]));
    }
}
