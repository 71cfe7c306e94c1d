using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using UNetCluster.Data.DataSets;
using UNetCluster.Model.Optimization;
using UNetCluster.Model.Training;
using static TorchSharp.torch;

namespace UNetCluster.Bench;

/// <summary>
/// The cluster worker's own work without any synchronisation (bench/sync.py's "unsynced" side): the same
/// <see cref="GradientEngine"/> a silo's engine runs (tile sampling with the paper's augmentation from the bundled
/// data, forward, backward, gradient copied out), then a local flat optimizer update, as if the worker were alone.
/// <c>--precision bf16</c> sets <see cref="TrainingOptions.Precision"/>, as <c>unet submit --precision bf16</c> does for a
/// silo's engine.
/// </summary>
internal static class WorkerBenchmark
{
    public static int Run(IReadOnlyList<string> args)
    {
        var options = BenchOptions.Parse(args);
        set_num_threads(options.Threads);
        var training = Presets.Get("quick", options.Seed) with
        {
            Model = options.Model,
            TileSize = options.Tile,
            BatchSize = options.Batch,
            Minutes = null,
            Precision = options.Precision,
        };
        var dataSet = DataSetLoader.LoadLabelled(BundledData.ImagesDirectory, BundledData.MasksDirectory);
        using var data = TrainingData.Create(dataSet, training.ValidationSections, training.WeightMap);
        using var engine = new GradientEngine(training, data.Training);
        using var parameters = engine.FlattenParameters();
        using var optimizer = new FlatOptimizer(training.Optimizer, parameters.numel());
        var host = new float[engine.ParameterCount];
        var tiles = Enumerable.Range(0, options.Batch).Select(i => (long)i).ToArray();
        var seconds = new List<double>();
        for (var step = 0; step < options.Warmup + options.Steps; step++)
        {
            var started = Stopwatch.GetTimestamp();
            var result = engine.ComputeGradient(step, tiles);
            result.Gradient.data<float>().CopyTo(host);
            optimizer.Step(parameters, result.Gradient, training.Optimizer.LearningRate);
            engine.AssignParameters(parameters);
            if (step >= options.Warmup)
            {
                seconds.Add(Stopwatch.GetElapsedTime(started).TotalSeconds);
            }

            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  worker step {step + 1}: {Stopwatch.GetElapsedTime(started).TotalSeconds:F3} s, loss {result.Loss:F4}"));
        }

        var median = BenchResult.Median(seconds);
        Console.Out.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["framework"] = "unetcluster-worker",
            ["base_channels"] = options.BaseChannels,
            ["tile"] = options.Tile,
            ["precision"] = options.Precision.ToString().ToLowerInvariant(),
            ["compute"] = engine.Describe(),
            ["threads"] = options.Threads,
            ["parameters"] = engine.ParameterCount,
            ["steps"] = options.Steps,
            ["median_s"] = Math.Round(median, 4),
            ["tiles_per_s"] = Math.Round(options.Batch / median, 4),
        }));
        return 0;
    }
}
