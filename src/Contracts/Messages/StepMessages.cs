namespace UNetCluster.Contracts.Messages;

/// <summary>
/// What a worker computes at a step: the job (its spec, to build the replica), the step, the attempt (a recomputed
/// step gets a new one), the worker's index in the step's worker order, its global tile indexes, and where the
/// reducers are. <see cref="Version"/> is the number of steps the parameters it starts from have seen.
/// </summary>
[GenerateSerializer, Immutable, Alias("UNetCluster.StepPlan")]
public sealed record StepPlan(
    [property: Id(0)] string JobId,
    [property: Id(1)] Jobs.JobSpec Spec,
    [property: Id(2)] long Step,
    [property: Id(3)] int Attempt,
    [property: Id(4)] int WorkerIndex,
    [property: Id(5)] IReadOnlyList<long> Tiles,
    [property: Id(6)] IReadOnlyList<string> Reducers,
    [property: Id(7)] int BucketBytes);

/// <summary>
/// A slice of a worker's gradient for one reducer: little-endian values in <see cref="Format"/> at <see cref="Offset"/>
/// of the flat vector.
/// </summary>
[GenerateSerializer, Immutable, Alias("UNetCluster.GradientBucket")]
public sealed record GradientBucket(
    [property: Id(0)] long Step,
    [property: Id(1)] int Attempt,
    [property: Id(2)] int WorkerIndex,
    [property: Id(3)] int Samples,
    [property: Id(4)] long Offset,
    [property: Id(5)] byte[] Values,
    [property: Id(6)] WireFormat Format = WireFormat.Fp32);

/// <summary>
/// How a bucket's values travel. A bf16 job's gradient is bf16 already (its backward pass runs in bf16), so sending
/// it as bf16 loses nothing; its parameters are pulled as the bf16 rounding of the reducers' fp32 masters, which is
/// exactly what its next step computes from. Reducers keep and update fp32 either way.
/// </summary>
public enum WireFormat : byte
{
    /// <summary>IEEE float32, 4 bytes a value.</summary>
    Fp32 = 0,

    /// <summary>bfloat16 (the upper half of a float32, rounded to nearest even), 2 bytes a value.</summary>
    Bf16 = 1,
}

/// <summary>Sizes of <see cref="WireFormat"/> values.</summary>
public static class WireFormats
{
    /// <summary>Bytes a value takes in <paramref name="format"/>; throws for a format this build does not know.</summary>
    public static int BytesPerValue(this WireFormat format) => format switch
    {
        WireFormat.Fp32 => 4,
        WireFormat.Bf16 => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "expected a wire format of 0 (float32) or 1 (bfloat16)"),
    };

    /// <summary>Whether <paramref name="format"/> is one this build knows (a frame's byte is checked before it is used).</summary>
    public static bool IsKnown(this WireFormat format) => format is WireFormat.Fp32 or WireFormat.Bf16;
}

/// <summary>What a reducer did with a gradient bucket.</summary>
public enum ContributionOutcome
{
    /// <summary>Recorded for the open step.</summary>
    Accepted,

    /// <summary>The reducer already applied this step (a recomputed step reaching a reducer that had all it needed).</summary>
    AlreadyApplied,

    /// <summary>For an older attempt or a step not open; dropped.</summary>
    Stale,

    /// <summary>Held NaN or infinity; refused.</summary>
    NotFinite,
}

/// <summary>
/// A slice of a named float32 vector (parameters or an optimizer state vector) at a version (steps applied), its
/// values in <see cref="Format"/> (parameters may be pulled as bf16; everything else is float32).
/// </summary>
[GenerateSerializer, Immutable, Alias("UNetCluster.VectorBucket")]
public sealed record VectorBucket(
    [property: Id(0)] string Name,
    [property: Id(1)] long Version,
    [property: Id(2)] long Offset,
    [property: Id(3)] byte[] Values,
    [property: Id(4)] WireFormat Format = WireFormat.Fp32);

/// <summary>Sets up a reducer: its range of the flat vector, optimizer, and the version and optimizer step count its state starts at.</summary>
[GenerateSerializer, Immutable, Alias("UNetCluster.ReducerSetup")]
public sealed record ReducerSetup(
    [property: Id(0)] string JobId,
    [property: Id(1)] Jobs.JobSpec Spec,
    [property: Id(2)] int Index,
    [property: Id(3)] long Offset,
    [property: Id(4)] long Length,
    [property: Id(5)] long Version,
    [property: Id(6)] long OptimizerSteps);

/// <summary>
/// A reducer's state as the coordinator checks it after a fault: whether it holds state, the steps applied, its shard,
/// Adam's step count (for a copy set up from it) and the reducer that holds its copy (null: none).
/// </summary>
[GenerateSerializer, Immutable, Alias("UNetCluster.ReducerState")]
public sealed record ReducerState(
    [property: Id(0)] bool Ready,
    [property: Id(1)] long Version,
    [property: Id(2)] long Offset,
    [property: Id(3)] long Length,
    [property: Id(4)] long OptimizerSteps = 0,
    [property: Id(5)] string? Copy = null);

/// <summary>
/// A worker's report of a step it finished: its replica holds the parameters after the step. <c>Compute</c> is the
/// device and precision it computed in, e.g. "cpu bf16" or "cuda:0 fp32"; <c>MemoryBytes</c> the memory its process
/// had in use when it reported (0: not measured), as <c>UNetCluster.Model.Training.MemoryInUse</c> measures it.
/// </summary>
[GenerateSerializer, Immutable, Alias("UNetCluster.StepReport")]
public sealed record StepReport(
    [property: Id(0)] string Worker,
    [property: Id(1)] long Step,
    [property: Id(2)] int Attempt,
    [property: Id(3)] int WorkerIndex,
    [property: Id(4)] double Loss,
    [property: Id(5)] int Samples,
    [property: Id(6)] long BytesSent,
    [property: Id(7)] long BytesReceived,
    [property: Id(8)] TimeSpan ComputeTime,
    [property: Id(9)] TimeSpan SyncTime,
    [property: Id(10)] string? Error = null,
    [property: Id(11)] string? Compute = null,
    [property: Id(12)] long MemoryBytes = 0);

/// <summary>Restore plan: load the job's latest checkpoint (or the seed's initial weights) and set up the reducers from it.</summary>
[GenerateSerializer, Immutable, Alias("UNetCluster.RestorePlan")]
public sealed record RestorePlan(
    [property: Id(0)] string JobId,
    [property: Id(1)] Jobs.JobSpec Spec,
    [property: Id(2)] IReadOnlyList<string> Reducers,
    [property: Id(3)] int BucketBytes);

/// <summary>Where the job's training restarts: the version (steps applied) the reducers now hold.</summary>
[GenerateSerializer, Immutable, Alias("UNetCluster.RestoreResult")]
public sealed record RestoreResult([property: Id(0)] long Version, [property: Id(1)] long Parameters, [property: Id(2)] string? Checkpoint);

/// <summary>Write a checkpoint of the job at <see cref="Version"/> from the replica and the reducers' optimizer state.</summary>
[GenerateSerializer, Immutable, Alias("UNetCluster.CheckpointPlan")]
public sealed record CheckpointPlan(
    [property: Id(0)] string JobId,
    [property: Id(1)] Jobs.JobSpec Spec,
    [property: Id(2)] long Version,
    [property: Id(3)] IReadOnlyList<string> Reducers,
    [property: Id(4)] int BucketBytes,
    [property: Id(5)] double? Loss,
    [property: Id(6)] bool WaitForUpload = false)
{
    /// <summary>When set, the step's validation was the job's best so far: the checkpoint is marked best, with this decision threshold.</summary>
    [Id(7)] public BestMark? Best { get; init; }

    /// <summary>The decision threshold of the job's latest validation, recorded in the checkpoint's manifest (null: none yet).</summary>
    [Id(8)] public double? Threshold { get; init; }

    /// <summary>
    /// The smallest object size of the job's latest validation, recorded in the checkpoint's manifest (null: none yet, or
    /// no instance truth to size objects by).
    /// </summary>
    [Id(9)] public int? MinObjectPixels { get; init; }
}

/// <summary>Marks a checkpoint as a job's best by a validation metric, with the threshold calibrated for it.</summary>
[GenerateSerializer, Immutable, Alias("UNetCluster.BestMark")]
public sealed record BestMark([property: Id(0)] string Metric, [property: Id(1)] double Value, [property: Id(2)] double Threshold, [property: Id(3)] int MinObjectPixels = 0);

/// <summary>
/// A checkpoint request's outcome: the snapshot was handed to the worker's background upload (<see cref="Requested"/>),
/// and the newest checkpoint that upload has written so far, if any (with the pointer moved to it). Failed upload
/// attempts since the last written checkpoint, and the last error, are reported too: they are retried, never dropped.
/// </summary>
[GenerateSerializer, Immutable, Alias("UNetCluster.CheckpointResult")]
public sealed record CheckpointResult(
    [property: Id(0)] long Requested,
    [property: Id(1)] long? WrittenStep,
    [property: Id(2)] string? Written,
    [property: Id(3)] long WrittenBytes,
    [property: Id(4)] int FailedAttempts,
    [property: Id(5)] string? LastError,
    [property: Id(6)] double SnapshotSeconds)
{
    /// <summary>The newest checkpoint this worker wrote as the job's best (marked by a <see cref="BestMark"/>), if any.</summary>
    [Id(7)] public long? BestStep { get; init; }

    [Id(8)] public string? BestLocation { get; init; }
}

/// <summary>
/// Validate a job's model at a committed step on a worker: the job's validation sections whose position in the
/// validation split is <see cref="WorkerIndex"/> modulo <see cref="Workers"/>, each predicted with the overlap-tile
/// predictor from the worker's replica at <see cref="Version"/>. <see cref="Reducers"/> (cut in buckets of
/// <see cref="BucketBytes"/>) hold that version's fp32 parameters, for a worker whose replica holds only their bf16
/// rounding (a bf16 job pulls its parameters as bf16): it validates the fp32 masters, as a checkpoint keeps them.
/// </summary>
[GenerateSerializer, Immutable, Alias("UNetCluster.ValidationPlan")]
public sealed record ValidationPlan(
    [property: Id(0)] string JobId,
    [property: Id(1)] Jobs.JobSpec Spec,
    [property: Id(2)] long Version,
    [property: Id(3)] int WorkerIndex,
    [property: Id(4)] int Workers,
    [property: Id(5)] IReadOnlyList<string>? Reducers = null,
    [property: Id(6)] int BucketBytes = 0);

/// <summary>
/// One validation section's scores at each candidate decision threshold (same order as <see cref="Thresholds"/>);
/// the object scores only when the section has instance truth, and then each candidate is a threshold and the smallest
/// object size counted (<see cref="MinObjectPixels"/>, null: every object counted).
/// </summary>
[GenerateSerializer, Immutable, Alias("UNetCluster.SectionValidation")]
public sealed record SectionValidation(
    [property: Id(0)] string Id,
    [property: Id(1)] double[] Thresholds,
    [property: Id(2)] double[] PixelError,
    [property: Id(3)] double[] RandError,
    [property: Id(4)] double[] Dice,
    [property: Id(5)] double[] IoU,
    [property: Id(6)] double[]? ObjectF1,
    [property: Id(7)] double[]? ObjectMeanF1,
    [property: Id(8)] int[]? MinObjectPixels = null,
    [property: Id(9)] long? ContactPixels = null,
    [property: Id(10)] long? ContactsMarked = null);

/// <summary>A worker's part of a validation: its sections' scores and the seconds it took.</summary>
[GenerateSerializer, Immutable, Alias("UNetCluster.ValidationReport")]
public sealed record ValidationReport(
    [property: Id(0)] string Worker,
    [property: Id(1)] long Version,
    [property: Id(2)] IReadOnlyList<SectionValidation> Sections,
    [property: Id(3)] double Seconds);
