using System.Diagnostics;
using System.Globalization;
using UNetCluster.Data.Storage;
using UNetCluster.Model.Checkpoints;
using UNetCluster.Training.Checkpoints;

namespace UNetCluster.Bench;

/// <summary>
/// The training stall of a checkpoint (<c>UNetCluster.Bench checkpoint [--base 64] [--steps N] ...</c>): every step
/// is followed by a checkpoint, taken as the trainers take it now, <see cref="CheckpointSnapshot.Capture"/> on the
/// training thread (the stall) and <see cref="CheckpointUploader.Enqueue"/> to a background upload into a
/// <see cref="FileBlobStore"/> in a temporary folder (or Azure Blob storage with UNET_BLOB). The stall is reported as
/// a fraction of the step time measured in the same run, next to one blocking <see cref="CheckpointStore.Save"/>
/// (the old way: the step waits for the whole write).
/// </summary>
internal static class CheckpointBenchmark
{
    public static int Run(BenchOptions options)
    {
        using var bench = new StepBenchmark(options);
        var folder = Path.Combine(Path.GetTempPath(), "unetcluster-bench-checkpoints", Guid.NewGuid().ToString("N"));
        var connection = Environment.GetEnvironmentVariable("UNET_BLOB");
        IBlobStore blobs = connection is { Length: > 0 } ? AzureBlobStore.Connect(connection, "bench" + Guid.NewGuid().ToString("N")[..12]) : new FileBlobStore(folder);
        var store = CheckpointStore.ForJob(blobs, "bench", new CheckpointRetention(KeepLast: 2, KeepBest: false));
        var uploads = new List<double>();
        var superseded = 0;
        var uploadStarted = Stopwatch.GetTimestamp();
        try
        {
            Log($"checkpoint stall: U-Net base {options.BaseChannels}, depth {options.Depth}, {options.Tile}x{options.Tile}, {bench.ParameterCount:N0} parameters, " +
                $"{options.Optimizer}, store {(connection is { Length: > 0 } ? "Azure Blob (UNET_BLOB)" : folder)}");
            for (var i = 0; i < options.Warmup; i++)
            {
                bench.Step();
            }

            var blocking = Stopwatch.StartNew();
            store.Save(0, bench.Model, bench.Optimizer, options.Seed, null, null);
            var blockingSeconds = blocking.Elapsed.TotalSeconds;
            Log($"  one blocking Save (snapshot + hash + write + pointer): {blockingSeconds:F3} s");

            var uploader = new CheckpointUploader(store, new CheckpointUploadOptions(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(5)));
            uploader.Changed += (_, e) =>
            {
                if (e.Kind == CheckpointUploadEventKind.Uploaded)
                {
                    uploads.Add(Stopwatch.GetElapsedTime(uploadStarted).TotalSeconds);
                }
                else if (e.Kind == CheckpointUploadEventKind.Superseded)
                {
                    Interlocked.Increment(ref superseded);
                }
            };

            var steps = new List<double>();
            var stalls = new List<double>();
            long bytes = 0;
            for (var i = 1; i <= options.Steps; i++)
            {
                var started = Stopwatch.GetTimestamp();
                bench.Step();
                steps.Add(Stopwatch.GetElapsedTime(started).TotalSeconds);
                var stalled = Stopwatch.GetTimestamp();
                var snapshot = CheckpointSnapshot.Capture(i, bench.Model, bench.Optimizer, options.Seed, null, null);
                uploadStarted = Stopwatch.GetTimestamp();
                uploader.Enqueue(snapshot);
                stalls.Add(Stopwatch.GetElapsedTime(stalled).TotalSeconds);
                bytes = snapshot.Size;
                Log($"  step {i}/{options.Steps}: {steps[^1]:F3} s, checkpoint stall {stalls[^1]:F3} s ({bytes / 1e6:F0} MB)");
            }

            var flush = Stopwatch.StartNew();
            uploader.FlushAsync().GetAwaiter().GetResult();
            var flushSeconds = flush.Elapsed.TotalSeconds;
            uploader.DisposeAsync().AsTask().GetAwaiter().GetResult();
            var step = BenchResult.Median(steps);
            var stall = BenchResult.Median(stalls);
            Log($"  median step {step:F3} s, median stall {stall:F3} s = {stall / step:P1} of a step; blocking Save {blockingSeconds:F3} s = {blockingSeconds / step:P1}; " +
                $"{uploads.Count} uploads, {superseded} superseded, flush at the end {flushSeconds:F3} s");
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{{\"kind\":\"checkpoint-stall\",\"base\":{options.BaseChannels},\"tile\":{options.Tile},\"parameters\":{bench.ParameterCount},\"optimizer\":\"{options.Optimizer}\"," +
                $"\"snapshot_mb\":{bytes / 1e6:F1},\"step_median_s\":{step:F4},\"stall_median_s\":{stall:F4},\"stall_max_s\":{stalls.Max():F4},\"stall_fraction\":{stall / step:F4}," +
                $"\"blocking_save_s\":{blockingSeconds:F4},\"uploads\":{uploads.Count},\"superseded\":{superseded},\"flush_s\":{flushSeconds:F4}," +
                $"\"steps_s\":[{string.Join(',', steps.Select(s => s.ToString("F4", CultureInfo.InvariantCulture)))}]," +
                $"\"stalls_s\":[{string.Join(',', stalls.Select(s => s.ToString("F4", CultureInfo.InvariantCulture)))}]}}"));
            return 0;
        }
        finally
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    private static void Log(string message) => Console.Error.WriteLine(message);
}
