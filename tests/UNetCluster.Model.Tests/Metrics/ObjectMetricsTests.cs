using UNetCluster.Data.Labels;
using UNetCluster.Model.Metrics;

namespace UNetCluster.Model.Tests.Metrics;

/// <summary>Object precision, recall and F1 with merged and split counts, on hand-made instance masks.</summary>
public sealed class ObjectMetricsTests
{
    private const int Width = 30;
    private const int Height = 10;

    /// <summary>Three 8x8 true objects at x = 1, 11, 21 (ids 5, 6, 7).</summary>
    private static int[] ThreeObjects()
    {
        var ids = new int[Width * Height];
        foreach (var (x0, id) in new[] { (1, 5), (11, 6), (21, 7) })
        {
            Fill(ids, x0, x0 + 8, id);
        }

        return ids;
    }

    private static void Fill<T>(T[] values, int x0, int x1, T value)
    {
        for (var y = 1; y < 9; y++)
        {
            for (var x = x0; x < x1; x++)
            {
                values[(y * Width) + x] = value;
            }
        }
    }

    [Fact]
    public void Score_PerfectPrediction_MatchesEveryObject()
    {
        var truth = ThreeObjects();
        var mask = truth.Select(t => t == 0 ? (byte)0 : (byte)1).ToArray();

        var scores = ObjectMetrics.Score(mask, truth, Width, Height);

        Assert.Equal(new ObjectScores(3, 3, 3, 1, 1, 1, 1, 0, 0), scores);
    }

    [Fact]
    public void Score_TouchingObjectsAsLabels_KeepsThemApartWhereTheirMaskJoinsThem()
    {
        // The first two objects widened until they touch (x 1..9 and 10..18), labelled 40 and 41; the third 42.
        var truth = ThreeObjects();
        Fill(truth, 9, 10, 5);
        Fill(truth, 10, 11, 6);
        var labels = truth.Select(t => t == 0 ? 0 : t + 35).ToArray();
        var mask = truth.Select(t => t == 0 ? (byte)0 : (byte)1).ToArray();

        var fromLabels = ObjectMetrics.Score(labels, truth, Width, Height);
        var fromMask = ObjectMetrics.Score(mask, truth, Width, Height);

        Assert.Equal(new ObjectScores(3, 3, 3, 1, 1, 1, 1, 0, 0), fromLabels);
        Assert.Equal((2, 1, 2), (fromMask.Predicted, fromMask.Matched, fromMask.Merged));
    }

    [Fact]
    public void Score_TwoObjectsPredictedAsOne_CountsThemMergedAndMissed()
    {
        var truth = ThreeObjects();
        var mask = truth.Select(t => t == 0 ? (byte)0 : (byte)1).ToArray();
        Fill(mask, 9, 11, (byte)1);                                          // bridge the first two objects

        var scores = ObjectMetrics.Score(mask, truth, Width, Height);

        Assert.Equal(3, scores.Truth);
        Assert.Equal(2, scores.Predicted);
        Assert.Equal(1, scores.Matched);                                     // only the third object
        Assert.Equal(2, scores.Merged);
        Assert.Equal(0, scores.Split);
        Assert.Equal(2.0 / 5, scores.F1, 12);
        Assert.Equal(0.5, scores.Precision, 12);
        Assert.Equal(1.0 / 3, scores.Recall, 12);
    }

    [Fact]
    public void Compare_TwoObjectsPredictedAsOne_ListsTheMergeWithBothObjectsBoxesAndSizes()
    {
        // The first two objects bridged (x 1..18, y 1..8: 144 px), the second's right column cut off (x 18 kept out,
        // so the prediction covers 56 of its 64 pixels), and the third predicted apart: one merge of two objects.
        var truth = ThreeObjects();
        var labels = truth.Select(t => t == 0 ? 0 : t == 7 ? 2 : 1).ToArray();
        Fill(labels, 9, 11, 1);
        Fill(labels, 18, 19, 0);

        var compared = ObjectMetrics.Compare(labels, truth, Width, Height);

        Assert.Equal(ObjectMetrics.Score(labels, truth, Width, Height), compared.Scores);
        Assert.Equal(2, compared.Scores.Merged);
        var merge = Assert.Single(compared.Merges);
        Assert.Equal(new ConnectedComponents.Box(1, 1, 17, 8), merge.Box);
        Assert.Equal(17 * 8, merge.Pixels);
        Assert.Equal(
            [new MergedObject(new ConnectedComponents.Box(1, 1, 8, 8), 64, 64), new MergedObject(new ConnectedComponents.Box(11, 1, 18, 8), 64, 56)],
            merge.Objects);
    }

    [Fact]
    public void Compare_ObjectsKeptApart_ListsNoMerge()
    {
        var truth = ThreeObjects();

        var compared = ObjectMetrics.Compare(truth.Select(t => t == 0 ? (byte)0 : (byte)1).ToArray(), truth, Width, Height);

        Assert.Empty(compared.Merges);
        Assert.Equal(3, compared.Scores.Matched);
    }

    [Fact]
    public void Score_OneObjectCutInTwo_CountsItSplit()
    {
        var truth = ThreeObjects();
        var mask = truth.Select(t => t == 0 ? (byte)0 : (byte)1).ToArray();
        Fill(mask, 4, 5, (byte)0);                                           // cut the first object at x = 4

        var scores = ObjectMetrics.Score(mask, truth, Width, Height);

        Assert.Equal(4, scores.Predicted);
        Assert.Equal(2, scores.Matched);                                     // neither half reaches IoU 0.5 with the first
        Assert.Equal(1, scores.Split);
        Assert.Equal(0, scores.Merged);
    }

    [Fact]
    public void Score_ShrunkenPrediction_PassesLowThresholdsOnly()
    {
        var truth = ThreeObjects();
        var mask = new byte[Width * Height];
        foreach (var x0 in new[] { 1, 11, 21 })
        {
            Fill(mask, x0, x0 + 6, (byte)1);                                 // IoU 48/64 = 0.75 with each
        }

        var scores = ObjectMetrics.Score(mask, truth, Width, Height);

        Assert.Equal(1, scores.F1);
        Assert.Equal(0.5, scores.MeanF1, 12);                                // above 0.5..0.70, not 0.75..0.95
    }
}
