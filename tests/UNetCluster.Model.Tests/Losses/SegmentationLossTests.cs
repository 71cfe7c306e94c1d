using UNetCluster.Model.Losses;
using static TorchSharp.torch;

namespace UNetCluster.Model.Tests.Losses;

public sealed class SegmentationLossTests
{
    [Fact]
    public void WeightedCrossEntropy_KnownLogits_MatchesHandComputedValue()
    {
        using var scope = NewDisposeScope();
        // One pixel pair: logits (0, ln 3) -> p(class 1) = 3/4. Targets 1 and 0, weights 1 and 10.
        var logits = tensor(new float[] { 0, 0, (float)Math.Log(3), (float)Math.Log(3) }, [1, 2, 1, 2]);
        var target = tensor(new long[] { 1, 0 }, [1, 1, 2]);
        var weights = tensor(new float[] { 1, 10 }, [1, 1, 2]);
        var expected = ((1 * -Math.Log(0.75)) + (10 * -Math.Log(0.25))) / 2;
        var loss = SegmentationLoss.WeightedCrossEntropy(logits, target, weights).item<float>();
        Assert.Equal(expected, loss, 5);
        var unweighted = SegmentationLoss.WeightedCrossEntropy(logits, target, null).item<float>();
        Assert.Equal((-Math.Log(0.75) - Math.Log(0.25)) / 2, unweighted, 5);
    }

    [Fact]
    public void SoftDice_PerfectAndWrongPredictions_AreNearZeroAndNearOne()
    {
        using var scope = NewDisposeScope();
        var target = tensor(new long[] { 1, 1, 0, 0 }, [1, 2, 2]);
        var right = tensor(new float[] { -20, -20, 20, 20, 20, 20, -20, -20 }, [1, 2, 2, 2]);
        var wrong = tensor(new float[] { 20, 20, -20, -20, -20, -20, 20, 20 }, [1, 2, 2, 2]);
        Assert.True(SegmentationLoss.SoftDice(right, target).item<float>() < 0.01);
        Assert.True(SegmentationLoss.SoftDice(wrong, target).item<float>() > 0.6);
    }

    [Fact]
    public void SoftDice_AClassAbsentFromTheTarget_IsLeftOut()
    {
        using var scope = NewDisposeScope();
        // Three classes over four pixels; the target holds classes 0 and 1 only. Class 2 gets a faint 10 % everywhere.
        var target = tensor(new long[] { 1, 1, 0, 0 }, [1, 2, 2]);
        var p = new[] { new[] { 0.0, 0.0, 0.9, 0.9 }, new[] { 0.9, 0.9, 0.0, 0.0 }, new[] { 0.1, 0.1, 0.1, 0.1 } };
        var probabilities = p.SelectMany(c => c.Select(v => (float)Math.Log(v + 1e-9))).ToArray();
        var logits = tensor(probabilities, [1, 3, 2, 2]);

        // Class 1 alone: intersection 1.8, total 1.8 + 2, smooth 1 -> 1 - 4.6 / 4.8. Class 2's Dice (1 / 1.4, a loss of
        // 0.29 for a faint 10 %) would otherwise push the rare class to exactly 0.
        Assert.Equal(1 - (4.6 / 4.8), SegmentationLoss.SoftDice(logits, target).item<float>(), 4);

        // No foreground class in the target: no Dice term, the cross-entropy alone decides.
        Assert.Equal(0f, SegmentationLoss.SoftDice(logits, zeros([1, 2, 2], ScalarType.Int64)).item<float>());
    }

    [Fact]
    public void WeightedCrossEntropy_Gradient_FlowsToLogits()
    {
        using var scope = NewDisposeScope();
        var logits = randn(2, 2, 4, 4, requires_grad: true);
        SegmentationLoss.Compute(LossKind.WeightedCrossEntropy, logits, randint(0, 2, [2, 4, 4]), rand(2, 4, 4)).backward();
        Assert.True(logits.grad!.abs().sum().item<float>() > 0);
    }
}
