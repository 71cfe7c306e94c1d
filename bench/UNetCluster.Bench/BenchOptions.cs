using System.Globalization;
using UNetCluster.Model;
using UNetCluster.Model.Optimization;
using UNetCluster.Model.Training;

namespace UNetCluster.Bench;

/// <summary>
/// What one benchmark run measures. bench/pytorch/unet_step.py takes the same options with the same meaning and
/// defaults, so that one command line describes both sides.
/// </summary>
/// <param name="BaseChannels">Channels of the first level (--base); the paper: 64, the quick preset: 16.</param>
/// <param name="Depth">Number of 2x2 max-pool down-samplings (--depth).</param>
/// <param name="Tile">Input tile size (--tile); 572 gives the paper's 388x388 output.</param>
/// <param name="Batch">Tiles per step (--batch).</param>
/// <param name="Warmup">Steps run before timing starts (--warmup).</param>
/// <param name="Steps">Timed steps (--steps).</param>
/// <param name="Threads">libtorch intra-op threads (--threads).</param>
/// <param name="Seed">Seed of the initial weights and of the random tile, mask and weight map (--seed).</param>
/// <param name="Optimizer">Update rule (--optimizer adam|sgd); the quick preset uses Adam.</param>
/// <param name="LearningRate">Step size (--lr).</param>
/// <param name="Precision">Number format of forward and backward (--precision fp32|bf16): bf16 runs them from a bf16 copy of
/// the fp32 master weights with the loss in fp32, as <see cref="GradientEngine"/> does. The step (default) and "worker"
/// commands honour it; "precision" and "nonfinite" run both precisions and "checkpoint" fp32, so they refuse bf16.</param>
public sealed record BenchOptions(
    int BaseChannels = 16,
    int Depth = 4,
    int Tile = 572,
    int Batch = 1,
    int Warmup = 2,
    int Steps = 5,
    int Threads = 0,
    long Seed = 42,
    OptimizerKind Optimizer = OptimizerKind.Adam,
    double LearningRate = 1e-3,
    Precision Precision = Precision.Fp32)
{
    public const string Usage =
        "usage: UNetCluster.Bench [--base 16] [--depth 4] [--tile 572] [--batch 1] [--warmup 2] [--steps 5] " +
        "[--threads <cores>] [--seed 42] [--optimizer adam|sgd] [--lr 0.001] [--precision fp32|bf16]";

    /// <summary>The layer plan: the paper's, at <see cref="BaseChannels"/> and <see cref="Depth"/>, without drop-out.</summary>
    public UNetOptions Model => new(Depth: Depth, BaseChannels: BaseChannels);

    /// <summary>The optimizer: Adam or SGD (momentum 0.99, the paper's) at <see cref="LearningRate"/>.</summary>
    public OptimizerOptions OptimizerOptions => new(Optimizer, LearningRate);

    /// <summary>Parses the command line; throws <see cref="ArgumentException"/> naming the bad option.</summary>
    public static BenchOptions Parse(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var options = new BenchOptions(Threads: Environment.ProcessorCount);
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            if (i + 1 >= args.Count)
            {
                throw new ArgumentException($"{name} needs a value. {Usage}");
            }

            var value = args[++i];
            options = name switch
            {
                "--base" => options with { BaseChannels = Int(name, value, 1, 1024) },
                "--depth" => options with { Depth = Int(name, value, 1, 6) },
                "--tile" => options with { Tile = Int(name, value, 1, 8192) },
                "--batch" => options with { Batch = Int(name, value, 1, 1024) },
                "--warmup" => options with { Warmup = Int(name, value, 0, 1_000_000) },
                "--steps" => options with { Steps = Int(name, value, 1, 1_000_000) },
                "--threads" => options with { Threads = Int(name, value, 1, 1024) },
                "--seed" => options with { Seed = long.Parse(value, NumberStyles.Integer, CultureInfo.InvariantCulture) },
                "--optimizer" => options with { Optimizer = ParseOptimizer(value) },
                "--lr" => options with { LearningRate = double.Parse(value, NumberStyles.Float, CultureInfo.InvariantCulture) },
                "--precision" => options with { Precision = TrainingOverrides.ParsePrecision(value) },
                _ => throw new ArgumentException($"Unknown option '{name}'. {Usage}"),
            };
        }

        options.Model.Validate();
        options.OptimizerOptions.Validate();
        TileGeometry.RequireValid(options.Model, options.Tile, "--tile");
        return options;
    }

    private static int Int(string name, string value, int min, int max)
    {
        if (!int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var parsed) || parsed < min || parsed > max)
        {
            throw new ArgumentException($"{name} = '{value}' is invalid: expected an integer from {min} to {max}.");
        }

        return parsed;
    }

    private static OptimizerKind ParseOptimizer(string value) => value.ToUpperInvariant() switch
    {
        "ADAM" => OptimizerKind.Adam,
        "SGD" => OptimizerKind.Sgd,
        _ => throw new ArgumentException($"--optimizer = '{value}' is invalid: expected adam or sgd."),
    };
}
