namespace UNetCluster.Model.Optimization;

/// <summary>Which update rule the optimizer applies.</summary>
public enum OptimizerKind
{
    /// <summary>Stochastic gradient descent with momentum (the paper: momentum 0.99).</summary>
    Sgd,

    /// <summary>Adam (Kingma and Ba), with PyTorch's bias correction.</summary>
    Adam,
}

/// <summary>
/// Optimizer hyper-parameters, applied to a flat parameter vector (or one shard of it) with PyTorch's update rules.
/// Defaults are the paper's: SGD, momentum 0.99.
/// </summary>
/// <param name="Kind">Update rule.</param>
/// <param name="LearningRate">Step size.</param>
/// <param name="Momentum">SGD momentum (no dampening, no Nesterov), as torch.optim.SGD.</param>
/// <param name="Beta1">Adam's first-moment decay.</param>
/// <param name="Beta2">Adam's second-moment decay.</param>
/// <param name="Epsilon">Adam's denominator term.</param>
/// <param name="WeightDecay">L2 penalty added to the gradient (0 disables it).</param>
public sealed record OptimizerOptions(
    OptimizerKind Kind = OptimizerKind.Sgd,
    double LearningRate = 0.01,
    double Momentum = 0.99,
    double Beta1 = 0.9,
    double Beta2 = 0.999,
    double Epsilon = 1e-8,
    double WeightDecay = 0.0)
{
    /// <summary>Checks every value and throws <see cref="ArgumentException"/> naming the option and its accepted range.</summary>
    public OptimizerOptions Validate()
    {
        Require(Enum.IsDefined(Kind), nameof(Kind), Kind, "sgd or adam");
        Require(LearningRate is > 0 and <= 10, nameof(LearningRate), LearningRate, "a number in (0, 10]");
        Require(Momentum is >= 0 and < 1, nameof(Momentum), Momentum, "a number in [0, 1)");
        Require(Beta1 is >= 0 and < 1, nameof(Beta1), Beta1, "a number in [0, 1)");
        Require(Beta2 is >= 0 and < 1, nameof(Beta2), Beta2, "a number in [0, 1)");
        Require(Epsilon is > 0 and < 1, nameof(Epsilon), Epsilon, "a number in (0, 1)");
        Require(WeightDecay is >= 0 and < 1, nameof(WeightDecay), WeightDecay, "a number in [0, 1)");
        return this;
    }

    private static void Require(bool ok, string option, object value, string accepted)
    {
        if (!ok)
        {
            throw new ArgumentException($"Optimizer option {option} = {value} is invalid: expected {accepted}.", option);
        }
    }
}
