using System.Diagnostics;
using System.Globalization;
using TorchSharp;
using UNetCluster.Model;
using UNetCluster.Model.Losses;
using UNetCluster.Model.Modules;
using static TorchSharp.torch;

namespace UNetCluster.Bench;

/// <summary>
/// Forward and backward of the U-Net in fp32 and in bf16 (a bf16 copy of the same weights and tile; the loss and its
/// softmax in fp32), alternated in one process so both see the same machine: what issue 17's mixed precision can gain
/// on this CPU before any engine is built for it. Prints one JSON line per precision.
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
                $"{{\"precision\": \"{name}\", \"base_channels\": {options.BaseChannels}, \"tile\": {options.Tile}, \"threads\": {get_num_threads()}, " +
                $"\"median_s\": {BenchResult.Median(list):F4}, \"min_s\": {list.Min():F4}, \"loss\": {losses[name]:F6}, \"steps\": {list.Count}, " +
                $"\"largest_relative_gradient_difference\": {gradientGap:F4}}}"));
        }

        return 0;
    }
}
