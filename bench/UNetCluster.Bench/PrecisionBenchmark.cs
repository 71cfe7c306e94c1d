using System.Diagnostics;
using System.Globalization;
using TorchSharp;
using UNetCluster.Data.DataSets;
using UNetCluster.Data.Runtime;
using UNetCluster.Model;
using UNetCluster.Model.Losses;
using UNetCluster.Model.Modules;
using UNetCluster.Model.Optimization;
using UNetCluster.Model.Training;
using static TorchSharp.torch;

namespace UNetCluster.Bench;

/// <summary>
/// fp32 against bf16 on this CPU, alternated in one process so both see the same machine. First the bare kernels:
/// forward and backward of the U-Net from fp32 weights and from a bf16 copy of them, the loss and its softmax in fp32
/// (one JSON line per precision, <c>"what": "forward+backward"</c>). Then a worker's whole training step through
/// <see cref="GradientEngine"/> with <see cref="TrainingOptions.Precision"/>: tiles drawn and augmented from the
/// bundled data, the bf16 copy refreshed from the fp32 masters, forward, backward, the fp32 flat gradient, a flat
/// Adam update and the new parameters assigned (<c>"what": "engine step"</c>).
/// </summary>
public static class PrecisionBenchmark
{
    public static int Run(BenchOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var output = TileGeometry.RequireValid(options.Model, options.Tile, "--tile");
        manual_seed(options.Seed);
        using var fp32 = new UNet(options.Model);
        using var bf16 = new UNet(options.Model);
        bf16.load_state_dict(fp32.state_dict());
        bf16.to(ScalarType.BFloat16);
        using var image = randn(options.Batch, options.Model.InputChannels, options.Tile, options.Tile);
        using var image16 = image.to(ScalarType.BFloat16);
        using var masks = randint(0, options.Model.Classes, [options.Batch, output, output], dtype: ScalarType.Int64);
        using var weights = rand(options.Batch, output, output) * 9 + 1;
        var times = new Dictionary<string, List<double>> { ["fp32"] = [], ["bf16"] = [] };
        var losses = new Dictionary<string, double>();
        for (var i = 0; i < options.Warmup + options.Steps; i++)
        {
            foreach (var (name, model, input) in new[] { ("fp32", fp32, image), ("bf16", bf16, image16) })
            {
                var started = Stopwatch.GetTimestamp();
                using (var scope = NewDisposeScope())
                {
                    model.train();
                    model.zero_grad();
                    var logits = model.call(input).to(ScalarType.Float32);                 // (B, K, out, out), the loss in fp32
                    var loss = SegmentationLoss.WeightedCrossEntropy(logits, masks, weights);
                    loss.backward();
                    losses[name] = loss.item<float>();
                }

                var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
                if (i >= options.Warmup)
                {
                    times[name].Add(seconds);
                }

                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {name} {(i < options.Warmup ? "warm-up" : "step")} {i + 1}: {seconds:F3} s, loss {losses[name]:F4}"));
            }
        }

        var gradientGap = fp32.parameters().Zip(bf16.parameters())
            .Max(p => (p.First.grad!.to(ScalarType.Float32) - p.Second.grad!.to(ScalarType.Float32)).abs().max().item<float>()
                / Math.Max(1e-12f, p.First.grad!.abs().max().item<float>()));
        foreach (var (name, list) in times)
        {
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{{\"what\": \"forward+backward\", \"precision\": \"{name}\", \"base_channels\": {options.BaseChannels}, \"tile\": {options.Tile}, \"threads\": {get_num_threads()}, " +
                $"\"median_s\": {BenchResult.Median(list):F4}, \"min_s\": {list.Min():F4}, \"loss\": {losses[name]:F6}, \"steps\": {list.Count}, " +
                $"\"largest_relative_gradient_difference\": {gradientGap:F4}}}"));
        }

        return RunEngineSteps(options);
    }

    /// <summary>A worker's training step through the gradient engine in each precision, alternated.</summary>
    private static int RunEngineSteps(BenchOptions options)
    {
        var dataSet = DataSetLoader.LoadLabelled(BundledData.ImagesDirectory, BundledData.MasksDirectory);
        var training = Presets.Get("quick", options.Seed) with { Model = options.Model, TileSize = options.Tile, BatchSize = options.Batch, Minutes = null };
        using var data = TrainingData.Create(dataSet, training.ValidationSections, training.WeightMap);
        var runs = new[] { Precision.Fp32, Precision.Bf16 }.Select(p => new EngineRun(training with { Precision = p }, data).Start()).ToList();
        var tiles = Enumerable.Range(0, options.Batch).Select(i => (long)i).ToArray();
        for (var step = 0; step < options.Warmup + options.Steps; step++)
        {
            foreach (var run in runs)
            {
                var started = Stopwatch.GetTimestamp();
                var result = run.Engine.ComputeGradient(step, tiles);
                run.Optimizer.Step(run.Parameters, result.Gradient, training.Optimizer.LearningRate);
                run.Engine.AssignParameters(run.Parameters);
                var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
                run.Loss = result.Loss;
                if (step >= options.Warmup)
                {
                    run.Times.Add(seconds);
                }

                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  engine {run.Precision.ToString().ToLowerInvariant()} {(step < options.Warmup ? "warm-up" : "step")} {step + 1}: {seconds:F3} s, loss {result.Loss:F4}"));
            }
        }

        foreach (var run in runs)
        {
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{{\"what\": \"engine step\", \"precision\": \"{run.Precision.ToString().ToLowerInvariant()}\", \"base_channels\": {options.BaseChannels}, \"tile\": {options.Tile}, " +
                $"\"batch\": {options.Batch}, \"threads\": {get_num_threads()}, \"median_s\": {BenchResult.Median(run.Times):F4}, \"min_s\": {run.Times.Min():F4}, " +
                $"\"loss\": {run.Loss:F6}, \"steps\": {run.Times.Count}}}"));
            run.Dispose();
        }

        return 0;
    }

    /// <summary>
    /// Counts, per precision, the backward passes of a U-Net (random tile, masks and weights; its own weights) whose
    /// gradient holds a NaN or infinity: the check of the oneDNN defect for widths that are not a multiple of 16
    /// (<see cref="TorchRuntime"/>). Run it with <c>UNETCLUSTER_MKLDNN=1</c> to see the kernels with the guard off.
    /// </summary>
    public static int ProbeNonFinite(BenchOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var output = TileGeometry.RequireValid(options.Model, options.Tile, "--tile");
        foreach (var type in new[] { ScalarType.Float32, ScalarType.BFloat16 })
        {
            manual_seed(options.Seed);
            using var model = new UNet(options.Model);
            model.to(type);
            var bad = 0;
            for (var i = 0; i < options.Steps; i++)
            {
                using var scope = NewDisposeScope();
                model.zero_grad();
                var logits = model.call(randn(options.Batch, options.Model.InputChannels, options.Tile, options.Tile).to(type)).to(ScalarType.Float32);
                var loss = SegmentationLoss.WeightedCrossEntropy(logits, randint(0, options.Model.Classes, [options.Batch, output, output], dtype: ScalarType.Int64), rand(options.Batch, output, output) * 9 + 1);
                loss.backward();
                bad += model.parameters().Any(p => !p.grad!.isfinite().all().item<bool>()) ? 1 : 0;
            }

            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{{\"what\": \"non-finite gradients\", \"precision\": \"{(type == ScalarType.BFloat16 ? "bf16" : "fp32")}\", \"base_channels\": {options.BaseChannels}, " +
                $"\"tile\": {options.Tile}, \"onednn\": {(TorchRuntime.MkldnnEnabled ? "true" : "false")}, \"passes\": {options.Steps}, \"non_finite\": {bad}}}"));
        }

        return 0;
    }

    /// <summary>One precision's engine, its flat parameters and optimizer, and its step times.</summary>
    private sealed class EngineRun(TrainingOptions options, TrainingData data) : IDisposable
    {
        public Precision Precision { get; } = options.Precision;

        public GradientEngine Engine { get; } = new(options, data.Training);

        public Tensor Parameters { get; private set; } = null!;

        public FlatOptimizer Optimizer { get; private set; } = null!;

        public List<double> Times { get; } = [];

        public double Loss { get; set; }

        public EngineRun Start()
        {
            Parameters = Engine.FlattenParameters().DetachFromDisposeScope();
            Optimizer = new FlatOptimizer(options.Optimizer, Parameters.numel());
            return this;
        }

        public void Dispose()
        {
            Optimizer.Dispose();
            Parameters.Dispose();
            Engine.Dispose();
        }
    }
}
