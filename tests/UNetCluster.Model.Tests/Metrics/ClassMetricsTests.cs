using UNetCluster.Model.Metrics;

namespace UNetCluster.Model.Tests.Metrics;

/// <summary>Per-class Dice and IoU of class-index maps, as <c>unet evaluate --mask-kind classes</c> reports them.</summary>
public sealed class ClassMetricsTests
{
    [Fact]
    public void Score_HandMadeThreeClassMaps_GivesEachClassItsDiceAndIoUAndTheForegroundMean()
    {
        // truth:     0 0 1 1 2 2 2 2
        // predicted: 0 1 1 1 2 2 0 0
        byte[] truth = [0, 0, 1, 1, 2, 2, 2, 2];
        byte[] predicted = [0, 1, 1, 1, 2, 2, 0, 0];

        var scores = ClassMetrics.Score(predicted, truth, 3, ["background", "tumour", "stroma"]);

        Assert.Equal(3, scores.Classes.Count);
        Assert.Equal(2.0 * 1 / (3 + 2), scores.Classes[0].Dice!.Value, 12);    // background: 1 shared of 3 predicted, 2 true
        Assert.Equal(2.0 * 2 / (3 + 2), scores.Classes[1].Dice!.Value, 12);    // class 1: 2 shared of 3 predicted, 2 true
        Assert.Equal(2.0 / 3, scores.Classes[1].IoU!.Value, 12);
        Assert.Equal(2.0 * 2 / (2 + 4), scores.Classes[2].Dice!.Value, 12);    // class 2: 2 shared of 2 predicted, 4 true
        Assert.Equal(2.0 / 4, scores.Classes[2].IoU!.Value, 12);
        Assert.Equal(((0.8) + (2.0 / 3)) / 2, scores.MeanDice!.Value, 12);     // over the foreground classes 1 and 2
        Assert.Equal(((2.0 / 3) + 0.5) / 2, scores.MeanIoU!.Value, 12);
        Assert.Equal("stroma", scores.Classes[2].Name);
        Assert.Equal((4L, 2L), (scores.Classes[2].TruthPixels, scores.Classes[2].PredictedPixels));
    }

    [Fact]
    public void Score_ClassInNeitherMap_HasNoScoreAndStaysOutOfTheMean()
    {
        byte[] truth = [0, 1, 1, 0];

        var scores = ClassMetrics.Score(truth, truth, 4);

        Assert.Null(scores.Classes[3].Dice);
        Assert.Null(scores.Classes[2].IoU);
        Assert.Equal(1.0, scores.MeanDice);
    }

    [Fact]
    public void Mean_TwoImages_AveragesEachClassOverTheImagesThatHaveIt()
    {
        var first = ClassMetrics.Score([1, 1, 2, 2], [1, 1, 2, 2], 3);      // both classes perfect
        var second = ClassMetrics.Score([1, 1, 0, 0], [1, 0, 0, 0], 3);     // class 1 half right, class 2 absent

        var mean = ClassMetrics.Mean([first, second])!;

        Assert.Equal((1.0 + (2.0 / 3)) / 2, mean.Classes[1].Dice!.Value, 12);
        Assert.Equal(1.0, mean.Classes[2].Dice!.Value, 12);
        Assert.Equal(2L + 1L, mean.Classes[1].TruthPixels);
    }
}
