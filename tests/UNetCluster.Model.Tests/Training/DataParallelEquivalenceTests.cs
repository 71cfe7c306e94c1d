using UNetCluster.Model.Optimization;
using UNetCluster.Model.Training;
using static TorchSharp.torch;

namespace UNetCluster.Model.Tests.Training;

/// <summary>
/// The arithmetic the cluster's step protocol rests on (DESIGN.md, "A training step"): replicas that each compute the
/// gradient of their share of a step's tiles, averaged by sample count, give the gradient one process computes over
/// all of those tiles, so the same update follows.
/// </summary>
public sealed class DataParallelEquivalenceTests
{
    [Fact]
    public void ComputeGradient_TwoReplicasOfTwoTiles_AverageToOneProcessOfFourTiles()
    {
        var options = TestSupport.SmallTraining(batch: 4);
        using var data = TrainingData.Create(TestSupport.BundledSections, options.ValidationSections, options.WeightMap);
        using var single = new GradientEngine(options, data.Training);
        using var first = new GradientEngine(options, data.Training);
        using var second = new GradientEngine(options, data.Training);

        using var whole = single.ComputeGradient(step: 5, [0, 1, 2, 3], TestContext.Current.CancellationToken).Gradient.clone();
        var a = first.ComputeGradient(step: 5, [0, 1], TestContext.Current.CancellationToken);
        var b = second.ComputeGradient(step: 5, [2, 3], TestContext.Current.CancellationToken);
        using var averaged = ((a.Gradient * a.Samples) + (b.Gradient * b.Samples)) / (a.Samples + b.Samples);

        Assert.True(averaged.allclose(whole, rtol: 1e-4, atol: 1e-6), $"max difference {(averaged - whole).abs().max().item<float>()}");
        using var zero = zeros_like(whole);
        Assert.False(whole.allclose(zero), "the gradient is not trivially zero");
    }

    [Fact]
    public void ComputeGradient_SameStepAndTiles_IsBitIdenticalOnAnotherReplica()
    {
        var options = TestSupport.SmallTraining();
        using var data = TrainingData.Create(TestSupport.BundledSections, options.ValidationSections, options.WeightMap);
        using var first = new GradientEngine(options, data.Training);
        using var second = new GradientEngine(options, data.Training);
        using var expected = first.ComputeGradient(3, [4, 5], TestContext.Current.CancellationToken).Gradient.clone();
        Assert.True(second.ComputeGradient(3, [4, 5], TestContext.Current.CancellationToken).Gradient.Equals(expected), "a recomputed step draws the same tiles");
        using var other = first.ComputeGradient(4, [4, 5], TestContext.Current.CancellationToken).Gradient.clone();
        Assert.False(other.Equals(expected), "another step draws other tiles");
    }

    [Fact]
    public void AssignParameters_FromAnotherReplica_MakesTheReplicasEqual()
    {
        var options = TestSupport.SmallTraining();
        using var data = TrainingData.Create(TestSupport.BundledSections, options.ValidationSections, options.WeightMap);
        using var source = new GradientEngine(options with { Seed = 1 }, data.Training);
        using var target = new GradientEngine(options with { Seed = 2 }, data.Training);
        using var parameters = source.FlattenParameters();
        using var before = target.FlattenParameters();
        Assert.False(before.Equals(parameters), "different seeds start from different weights");
        target.AssignParameters(parameters);
        using var after = target.FlattenParameters();
        Assert.True(after.Equals(parameters));
        Assert.Equal(ParameterVector.Length(target.Model.parameters()), after.numel());
    }
}
