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
        var gradients = TestSupport.TwoReplicasAgainstOne(options, data.Training);
        using var averaged = gradients.Averaged;
        using var whole = gradients.Whole;

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
    public void ComputeGradient_ReportingDuringBackward_GivesTheSameGradientAndFinalValuesAtEachReport()
    {
        var options = TestSupport.SmallTraining();
        using var data = TrainingData.Create(TestSupport.BundledSections, options.ValidationSections, options.WeightMap);
        using var plain = new GradientEngine(options, data.Training);
        using var reporting = new GradientEngine(options, data.Training);
        using var expected = plain.ComputeGradient(3, [4, 5], TestContext.Current.CancellationToken).Gradient.clone();

        // At each report, the values from the reported offset on are copied as they are then.
        var reports = new List<(long Offset, float[] Values)>();
        var gradient = reporting.Gradient;
        var result = reporting.ComputeGradient(3, [4, 5], offset => reports.Add((offset, gradient.narrow(0, offset, gradient.numel() - offset).data<float>().ToArray())), TestContext.Current.CancellationToken);

        Assert.True(result.Gradient.Equals(expected), "reporting during the backward pass changes nothing");
        var stages = reporting.Model.StageParameterOffsets;
        var depth = options.Model.Depth;
        // One report per stage boundary, from the head's (stage 2*depth+1) down to stage 1's, then 0 after the backward pass.
        Assert.Equal([.. Enumerable.Range(1, (2 * depth) + 1).Reverse().Select(s => stages[s]), 0L], reports.Select(r => r.Offset));
        var final = expected.data<float>().ToArray();
        foreach (var (offset, values) in reports)
        {
            Assert.True(values.AsSpan().SequenceEqual(final.AsSpan((int)offset)), $"the values from {offset} on were final when reported");
        }

        Assert.True(reports.Count(r => r.Values.Any(v => v != 0)) >= reports.Count - 1, "the reports carry real gradients");
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
