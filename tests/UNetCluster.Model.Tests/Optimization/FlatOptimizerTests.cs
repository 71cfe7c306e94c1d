using TorchSharp;
using UNetCluster.Model.Optimization;
using static TorchSharp.torch;

namespace UNetCluster.Model.Tests.Optimization;

public sealed class FlatOptimizerTests
{
    [Theory]
    [InlineData(OptimizerKind.Sgd)]
    [InlineData(OptimizerKind.Adam)]
    public void Step_ThreeUpdates_MatchesTorchOptimizer(OptimizerKind kind)
    {
        using var scope = NewDisposeScope();
        var options = new OptimizerOptions(kind, LearningRate: 0.05, Momentum: 0.9, WeightDecay: 0.01);
        var start = randn(10);
        var reference = new TorchSharp.Modules.Parameter(start.clone());
        var flat = start.clone();
        optim.Optimizer torchOptimizer = kind == OptimizerKind.Sgd
            ? optim.SGD([reference], 0.05, momentum: 0.9, weight_decay: 0.01)
            : optim.Adam([reference], 0.05, weight_decay: 0.01);
        using var ours = new FlatOptimizer(options, 10);
        for (var step = 0; step < 3; step++)
        {
            var gradient = randn(10);
            torchOptimizer.zero_grad();
            (reference * gradient).sum().backward();     // d/dx (x . g) = g
            torchOptimizer.step();
            ours.Step(flat, gradient);
        }

        Assert.True(flat.allclose(reference.detach(), rtol: 1e-5, atol: 1e-6), $"{flat.str()} vs {reference.str()}");
        Assert.Equal(3, ours.StepCount);
    }

    [Fact]
    public void Step_TwoShards_EqualsOneWholeVector()
    {
        using var scope = NewDisposeScope();
        var options = new OptimizerOptions(OptimizerKind.Adam, LearningRate: 0.01);
        var whole = randn(12);
        var parts = whole.clone();
        using var wholeOptimizer = new FlatOptimizer(options, 12);
        using var first = new FlatOptimizer(options, 5);
        using var second = new FlatOptimizer(options, 7);
        for (var step = 0; step < 4; step++)
        {
            var gradient = randn(12);
            wholeOptimizer.Step(whole, gradient);
            first.Step(parts.narrow(0, 0, 5), gradient.narrow(0, 0, 5));
            second.Step(parts.narrow(0, 5, 7), gradient.narrow(0, 5, 7));
        }

        Assert.True(whole.Equals(parts), "a reducer's shard-wise update is the whole-vector update");
    }

    [Theory]
    [InlineData(OptimizerKind.Sgd)]
    [InlineData(OptimizerKind.Adam)]
    public void Step_EachInItsOwnDisposeScope_KeepsItsStateAndBuffers(OptimizerKind kind)
    {
        // A worker runs every step inside a dispose scope; the optimizer's state must outlive each of them.
        using var optimizer = new FlatOptimizer(new OptimizerOptions(kind, WeightDecay: 0.01), 6);
        using var parameters = ones(6);
        for (var step = 0; step < 3; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.Step(parameters, full(6, 0.5f));
        }

        Assert.Equal(3, optimizer.StepCount);
        Assert.True(parameters.lt(1).all().item<bool>(), "three descent steps moved every parameter down");
    }

    [Fact]
    public void Load_StateOfAnotherLength_IsRefusedWithTheReason()
    {
        using var scope = NewDisposeScope();
        using var optimizer = new FlatOptimizer(new OptimizerOptions(), 4);
        var error = Assert.Throws<InvalidDataException>(() => optimizer.Load(1, new Dictionary<string, Tensor> { ["momentum"] = zeros(5) }));
        Assert.Contains("momentum", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_NegativeLearningRate_NamesTheOption()
    {
        var error = Assert.Throws<ArgumentException>(() => new OptimizerOptions(LearningRate: -1).Validate());
        Assert.Contains("LearningRate", error.Message, StringComparison.Ordinal);
    }
}
