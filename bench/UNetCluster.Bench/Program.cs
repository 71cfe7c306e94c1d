using System.Diagnostics;
using System.Globalization;
using UNetCluster.Bench;
using UNetCluster.Data.Runtime;
using UNetCluster.Model.Training;
using static TorchSharp.torch;

// The training-step benchmark (TorchSharp side): one JSON line on stdout, progress on stderr.
// bench/run.sh runs it next to bench/pytorch/unet_step.py with the same options.
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
if (args.Length > 0 && args[0] == "worker")
{
    TorchRuntime.PreferPassiveOpenMp();   // as a silo does
    TorchRuntime.EnsureConfigured();
    return WorkerBenchmark.Run(args[1..]);   // bench/sync.py: a cluster worker's step without synchronisation
}

var checkpoint = args.Length > 0 && args[0] == "checkpoint";   // the checkpoint stall (CheckpointBenchmark)
var precision = args.Length > 0 && args[0] == "precision";     // fp32 against bf16 forward and backward, and engine steps (PrecisionBenchmark)
var nonFinite = args.Length > 0 && args[0] == "nonfinite";     // NaN gradients per precision (PrecisionBenchmark.ProbeNonFinite)
BenchOptions options;
try
{
    options = BenchOptions.Parse(checkpoint || precision || nonFinite ? args[1..] : args);
    if ((checkpoint || precision || nonFinite) && options.Precision != Precision.Fp32)
    {
        throw new ArgumentException($"--precision applies to the step and worker benchmarks; '{args[0]}' chooses its own precisions.");
    }
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}

TorchRuntime.EnsureConfigured();
set_num_threads(options.Threads);
if (checkpoint)
{
    return CheckpointBenchmark.Run(options);
}

if (nonFinite)
{
    return PrecisionBenchmark.ProbeNonFinite(options);
}

if (precision)
{
    return PrecisionBenchmark.Run(options);
}

using var bench = new StepBenchmark(options);
var version = $"TorchSharp {typeof(TorchSharp.torch).Assembly.GetName().Version?.ToString(3)}";
var optimizer = options.Optimizer.ToString().ToLowerInvariant();
var precisionName = options.Precision.ToString().ToLowerInvariant();
Log($"{version}: U-Net base {options.BaseChannels}, depth {options.Depth}, " +
    $"{options.Tile}x{options.Tile} -> {bench.OutputSize}x{bench.OutputSize}, batch {options.Batch}, {precisionName}, " +
    $"{bench.ParameterCount:N0} parameters, {optimizer} lr {options.LearningRate}, " +
    $"{get_num_threads()} threads, oneDNN {(TorchRuntime.MkldnnEnabled ? "on" : "off")}");

for (var i = 0; i < options.Warmup; i++)
{
    var started = Stopwatch.GetTimestamp();
    var (loss, _) = bench.Step();
    Log($"  warm-up {i + 1}/{options.Warmup}: {Stopwatch.GetElapsedTime(started).TotalSeconds:F3} s, loss {loss:F4}");
}

var seconds = new List<double>();
var updates = new List<double>();
var losses = new List<double>();
for (var i = 0; i < options.Steps; i++)
{
    var started = Stopwatch.GetTimestamp();
    var (loss, update) = bench.Step();
    seconds.Add(Stopwatch.GetElapsedTime(started).TotalSeconds);
    updates.Add(update);
    losses.Add(loss);
    Log($"  step {i + 1}/{options.Steps}: {seconds[^1]:F3} s (update {update:F3} s), loss {loss:F4}");
}

var median = BenchResult.Median(seconds);
var result = new BenchResult(
    Framework: "torchsharp",
    Version: version,
    BaseChannels: options.BaseChannels,
    Depth: options.Depth,
    Tile: options.Tile,
    Output: bench.OutputSize,
    Batch: options.Batch,
    Precision: precisionName,
    Parameters: bench.ParameterCount,
    Optimizer: optimizer,
    Lr: options.LearningRate,
    Threads: get_num_threads(),
    Mkldnn: TorchRuntime.MkldnnEnabled,
    Warmup: options.Warmup,
    Steps: options.Steps,
    MedianS: Math.Round(median, 4),
    MinS: Math.Round(seconds.Min(), 4),
    UpdateMedianS: Math.Round(BenchResult.Median(updates), 4),
    TilesPerS: Math.Round(options.Batch / median, 4),
    PeakRssMb: Math.Round(PeakRssBytes() / (1024.0 * 1024.0), 1),
    FirstLoss: Math.Round(losses[0], 6),
    LastLoss: Math.Round(losses[^1], 6),
    StepTimesS: [.. seconds.Select(s => Math.Round(s, 4))]);
Log($"  median {result.MedianS:F3} s/step (update {result.UpdateMedianS:F3} s), min {result.MinS:F3} s, " +
    $"{result.TilesPerS:F3} tiles/s, peak RSS {result.PeakRssMb:F0} MiB");
Console.Out.WriteLine(result.ToJsonLine());
return 0;

static void Log(string message) => Console.Error.WriteLine(message);

// VmHWM, the peak resident set, as /proc reports it (the same figure the PyTorch side reads).
static long PeakRssBytes()
{
    const string Key = "VmHWM:";
    if (File.Exists("/proc/self/status"))
    {
        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith(Key, StringComparison.Ordinal));
        if (line is not null)
        {
            var kib = long.Parse(line[Key.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            return kib * 1024;
        }
    }

    using var process = Process.GetCurrentProcess();
    return process.PeakWorkingSet64;
}
