namespace UNetCluster.Contracts.Jobs;

/// <summary>
/// One worker's part of a committed step, as the coordinator received it: its times and bytes, the device and
/// precision it computed in ("cpu bf16") and the memory it had in use (0: not measured), for the dashboard's cluster table.
/// </summary>
[GenerateSerializer, Immutable, Alias("UNetCluster.WorkerStepPoint")]
public sealed record WorkerStepPoint(
    [property: Id(0)] string Worker,
    [property: Id(1)] double ComputeSeconds,
    [property: Id(2)] double SyncSeconds,
    [property: Id(3)] long Bytes,
    [property: Id(4)] string? Compute = null,
    [property: Id(5)] long MemoryBytes = 0);

/// <summary>A committed step of a job: what the dashboard's curves are drawn from.</summary>
[GenerateSerializer, Immutable, Alias("UNetCluster.StepPoint")]
public sealed record StepPoint(
    [property: Id(0)] long Step,
    [property: Id(1)] DateTimeOffset At,
    [property: Id(2)] double Loss,
    [property: Id(3)] double? SmoothedLoss,
    [property: Id(4)] double TilesPerSecond,
    [property: Id(5)] double StepSeconds,
    [property: Id(6)] IReadOnlyList<WorkerStepPoint> Workers);

/// <summary>A checkpoint a job wrote: its step, where it is, how long it took and how big it is.</summary>
[GenerateSerializer, Immutable, Alias("UNetCluster.CheckpointPoint")]
public sealed record CheckpointPoint(
    [property: Id(0)] long Step,
    [property: Id(1)] DateTimeOffset At,
    [property: Id(2)] string Location,
    [property: Id(3)] double Seconds,
    [property: Id(4)] long Bytes);

/// <summary>
/// A job's recent steps (at most <see cref="MaxPoints"/>; older ones are thinned out, never the newest) and its
/// checkpoints. <see cref="Revision"/> grows with every change, so a reader can ask only for what is new.
/// </summary>
[GenerateSerializer, Immutable, Alias("UNetCluster.JobHistory")]
public sealed record JobHistory(
    [property: Id(0)] string JobId,
    [property: Id(1)] IReadOnlyList<StepPoint> Steps,
    [property: Id(2)] IReadOnlyList<CheckpointPoint> Checkpoints,
    [property: Id(3)] long Revision)
{
    public const int MaxPoints = 2000;

    /// <summary>The job's validations, oldest first (what the dashboard's validation curve is drawn from).</summary>
    [Id(4)] public IReadOnlyList<ValidationResult> Validations { get; init; } = [];
}
