using System.Diagnostics;
using System.Diagnostics.Metrics;
using UNetCluster.Contracts.Jobs;
using UNetCluster.Contracts.Messages;

namespace UNetCluster.Silo.Telemetry;

/// <summary>
/// The meter and activity source named <c>UNetCluster</c> and every instrument on them: recording only (the job's
/// history is fed by its coordinator). The instruments are created once and hold no settings; exporters (Prometheus, OTLP) are chosen by the host
/// (<see cref="Hosting.TelemetryExtensions"/>). Instrument names are what <c>deploy/grafana/unetcluster.json</c> queries,
/// after Prometheus' renaming (dots to underscores, the unit as a suffix, <c>_total</c> on counters).
/// </summary>
public static class UNetTelemetry
{
    public const string Name = "UNetCluster";

    public static readonly ActivitySource Source = new(Name);

    private static readonly Meter Meter = new(Name);

    /// <summary>Bucket bounds in seconds for step, reduce and checkpoint times: milliseconds on a GPU to minutes on a CPU.</summary>
    private static readonly InstrumentAdvice<double> Seconds = new()
    {
        HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    };

    private static readonly Histogram<double> StepDuration = Meter.CreateHistogram<double>(
        "unet.step.duration", "s", "Seconds of a committed step as the coordinator saw it, from opening it to every worker's report.", tags: null, advice: Seconds);

    private static readonly Counter<long> StepsCommitted = Meter.CreateCounter<long>("unet.steps.committed", null, "Steps committed.");

    private static readonly Gauge<double> Loss = Meter.CreateGauge<double>("unet.loss", null, "Mean loss over the workers' tiles at the last committed step.");

    private static readonly Gauge<double> SmoothedLoss = Meter.CreateGauge<double>("unet.loss.smoothed", null, "Exponentially smoothed loss (0.9).");

    private static readonly Gauge<double> TilesPerSecond = Meter.CreateGauge<double>("unet.tiles_per_second", null, "Tiles per second over the last committed steps.");

    private static readonly Histogram<double> WorkerCompute = Meter.CreateHistogram<double>(
        "unet.worker.compute.duration", "s", "Seconds a worker spent in forward and backward at a step.", tags: null, advice: Seconds);

    private static readonly Histogram<double> WorkerSync = Meter.CreateHistogram<double>(
        "unet.worker.sync.duration", "s", "Seconds a worker spent sending its gradient and pulling the new parameters at a step.", tags: null, advice: Seconds);

    private static readonly Counter<long> WorkerBytes = Meter.CreateCounter<long>(
        "unet.worker.transferred", "By", "Bytes of gradient and parameter messages a worker sent and received.");

    private static readonly Gauge<long> WorkerMemory = Meter.CreateGauge<long>(
        "unet.worker.memory", "By", "Memory a worker's process had in use at its last committed step (host RSS; see MemoryInUse), tagged with the device and precision it computes in.");

    /// <summary>The silo's native heap, observed at each collection (a scrape, an OTLP export); RSS and the GC heap come from the runtime's meter.</summary>
    private static readonly Lazy<ObservableGauge<long>> NativeHeap = new(() => Meter.CreateObservableGauge(
        "unet.process.malloc", NativeHeapNow, "By",
        "Bytes of glibc malloc's heap (libtorch's host tensors): state=in_use handed out and not freed, state=held taken from the system (mallinfo2)."));

    /// <summary>Creates the process's own instruments (observed at each collection, whether or not a job runs); the host calls it once.</summary>
    public static void ObserveProcess() => _ = NativeHeap.Value;

    private static readonly Counter<long> ReducedBytes = Meter.CreateCounter<long>(
        "unet.reducer.reduced", "By", "Bytes of gradient a reducer accepted and averaged.");

    private static readonly Histogram<double> ReduceDuration = Meter.CreateHistogram<double>(
        "unet.reducer.reduce.duration", "s", "Seconds a reducer took from the first gradient bucket of a step to the applied update.", tags: null, advice: Seconds);

    private static readonly Histogram<double> CheckpointDuration = Meter.CreateHistogram<double>(
        "unet.checkpoint.duration", "s", "Seconds a checkpoint held training: pulling the optimizer state and taking the snapshot; the upload runs in the background.", tags: null, advice: Seconds);

    private static readonly Gauge<long> CheckpointSize = Meter.CreateGauge<long>("unet.checkpoint.size", "By", "Bytes of the latest checkpoint.");

    private static readonly Gauge<double> ValidationScore = Meter.CreateGauge<double>(
        "unet.validation.score", null, "The latest validation's scores of the model, by metric (pixel-error, rand-error, dice, iou, object-f1).");

    private static readonly Histogram<double> ValidationDuration = Meter.CreateHistogram<double>(
        "unet.validation.duration", "s", "Seconds a validation held training.");

    private static readonly Counter<long> CopyBytes = Meter.CreateCounter<long>(
        "unet.reducer.copy.bytes", "By", "Bytes of averaged gradient the reducers handed to their copies on other silos.");

    private static readonly Histogram<double> CopyDuration = Meter.CreateHistogram<double>(
        "unet.reducer.copy.duration", "s", "Time from a reducer's apply to its copy having applied the same step.");

    private static readonly Counter<long> StepsRecomputed = Meter.CreateCounter<long>("unet.steps.recomputed", null, "Step attempts dropped and recomputed.");

    /// <summary>The span of one step of a job at the coordinator; its workers' and reducers' spans are its children.</summary>
    public static Activity? StartStep(string jobId, long step)
    {
        var activity = Source.StartActivity("unet.step", ActivityKind.Internal);
        activity?.SetTag("unet.job", jobId);
        activity?.SetTag("unet.step", step);
        return activity;
    }

    /// <summary>
    /// The span of a worker's part of a step on the engine (compute, send, pull), a child of <paramref name="parent"/>:
    /// the trace context of the worker grain's call, which the engine runs outside of.
    /// </summary>
    public static Activity? StartWorkerStep(StepPlan plan, ActivityContext parent)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var activity = Source.StartActivity("unet.worker.step", ActivityKind.Internal, parent);
        activity?.SetTag("unet.job", plan.JobId);
        activity?.SetTag("unet.step", plan.Step);
        activity?.SetTag("unet.attempt", plan.Attempt);
        activity?.SetTag("unet.worker.index", plan.WorkerIndex);
        return activity;
    }

    /// <summary>Records a reducer's update of its shard: a span parented to the step that opened it, and the metrics.</summary>
    public static void RecordReduce(string jobId, int shard, long step, ActivityContext parent, DateTimeOffset started, TimeSpan duration)
    {
        var tags = new TagList { { "job_id", jobId }, { "reducer", shard } };
        ReduceDuration.Record(duration.TotalSeconds, tags);
        using var activity = Source.StartActivity("unet.reducer.reduce", ActivityKind.Internal, parent, startTime: started);
        if (activity is not null)
        {
            activity.SetTag("unet.job", jobId);
            activity.SetTag("unet.step", step);
            activity.SetTag("unet.reducer.shard", shard);
            activity.SetEndTime(started.UtcDateTime + duration);
        }
    }

    /// <summary>Records the bytes a reducer handed to its copy for one step, and how long that took (the copy's apply included).</summary>
    public static void RecordCopyBytes(string jobId, long bytes, TimeSpan elapsed)
    {
        var job = new TagList { { "job_id", jobId } };
        CopyBytes.Add(bytes, job);
        CopyDuration.Record(elapsed.TotalSeconds, job);
    }

    public static void RecordReducedBytes(string jobId, int shard, long bytes) =>
        ReducedBytes.Add(bytes, new TagList { { "job_id", jobId }, { "reducer", shard } });

    /// <summary>Records a committed step's metrics.</summary>
    public static void StepCommitted(JobStatus status, IReadOnlyCollection<StepReport> reports)
    {
        ArgumentNullException.ThrowIfNull(status);
        ArgumentNullException.ThrowIfNull(reports);
        var job = new TagList { { "job_id", status.Id } };
        StepsCommitted.Add(1, job);
        StepDuration.Record(status.StepSeconds, job);
        if (status.Loss is { } loss)
        {
            Loss.Record(loss, job);
        }

        if (status.SmoothedLoss is { } smoothed)
        {
            SmoothedLoss.Record(smoothed, job);
        }

        var throughput = status.RecentTilesPerSecond > 0 ? status.RecentTilesPerSecond : status.TilesPerSecond;
        TilesPerSecond.Record(throughput, job);
        foreach (var report in reports)
        {
            var tags = new TagList { { "job_id", status.Id }, { "worker", report.Worker } };
            WorkerCompute.Record(report.ComputeTime.TotalSeconds, tags);
            WorkerSync.Record(report.SyncTime.TotalSeconds, tags);
            WorkerBytes.Add(report.BytesSent + report.BytesReceived, tags);
            if (report.MemoryBytes > 0)
            {
                WorkerMemory.Record(report.MemoryBytes, new TagList { { "job_id", status.Id }, { "worker", report.Worker }, { "compute", report.Compute ?? "unknown" } });
            }
        }
    }

    public static void StepRecomputed(string jobId) => StepsRecomputed.Add(1, new TagList { { "job_id", jobId } });

    /// <summary>A checkpoint was written: <paramref name="stall"/> is how long it held training (the snapshot, not the upload).</summary>
    public static void CheckpointWritten(string jobId, long bytes, TimeSpan stall)
    {
        var job = new TagList { { "job_id", jobId } };
        CheckpointDuration.Record(stall.TotalSeconds, job);
        CheckpointSize.Record(bytes, job);
    }

    /// <summary>A validation finished: its scores by metric and how long it held training.</summary>
    public static void Validated(string jobId, ValidationResult validation)
    {
        ArgumentNullException.ThrowIfNull(validation);
        ValidationDuration.Record(validation.Seconds, new TagList { { "job_id", jobId } });
        void Score(string metric, double? value)
        {
            if (value is { } v)
            {
                ValidationScore.Record(v, new TagList { { "job_id", jobId }, { "metric", metric } });
            }
        }

        Score("pixel-error", validation.PixelError);
        Score("rand-error", validation.RandError);
        Score("dice", validation.Dice);
        Score("iou", validation.IoU);
        Score("object-f1", validation.ObjectF1);
    }

    private static IEnumerable<Measurement<long>> NativeHeapNow() =>
        Data.Runtime.MallocHeap.Read() is { } heap
            ? [new(heap.InUse, new KeyValuePair<string, object?>("state", "in_use")), new(heap.Held, new KeyValuePair<string, object?>("state", "held"))]
            : [];
}
