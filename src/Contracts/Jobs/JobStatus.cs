namespace UNetCluster.Contracts.Jobs;

/// <summary>Where a job is in its life.</summary>
public enum JobState
{
    /// <summary>Accepted, waiting for a worker.</summary>
    Pending,

    /// <summary>Stepping.</summary>
    Running,

    /// <summary>All steps (or the time budget) done and the final checkpoint written.</summary>
    Completed,

    /// <summary>Stopped by a user at a step boundary, with a checkpoint.</summary>
    Cancelled,

    /// <summary>Stopped by an error it cannot recover from (see <see cref="JobStatus.Error"/>).</summary>
    Failed,

    /// <summary>A prediction job that wrote every item it could and lists those it could not (<see cref="PredictionProgress.Errors"/>).</summary>
    CompletedWithErrors,
}

/// <summary>A job as <c>unet status</c>, <c>watch</c> and <c>list</c> show it.</summary>
[GenerateSerializer, Immutable, Alias("UNetCluster.JobStatus")]
public sealed record JobStatus
{
    [Id(0)] public required string Id { get; init; }

    [Id(1)] public required JobSpec Spec { get; init; }

    [Id(2)] public JobState State { get; init; }

    /// <summary>Steps committed: applied by every reducer. Each step is applied exactly once.</summary>
    [Id(3)] public long Step { get; init; }

    /// <summary>Steps the job runs to.</summary>
    [Id(4)] public long Steps { get; init; }

    /// <summary>Mean loss over the workers' tiles at the last committed step.</summary>
    [Id(5)] public double? Loss { get; init; }

    /// <summary>Exponentially smoothed loss (0.9).</summary>
    [Id(6)] public double? SmoothedLoss { get; init; }

    /// <summary>Tiles per second since the job (re)started.</summary>
    [Id(7)] public double TilesPerSecond { get; init; }

    /// <summary>The workers of the last step, in worker order.</summary>
    [Id(8)] public IReadOnlyList<string> Workers { get; init; } = [];

    /// <summary>Step attempts that were dropped and recomputed because a worker was lost or sent a bad gradient.</summary>
    [Id(9)] public int RecomputedSteps { get; init; }

    /// <summary>Times the job went back to its latest checkpoint because a reducer's state was lost.</summary>
    [Id(10)] public int Restores { get; init; }

    /// <summary>Step of the latest checkpoint written, if any.</summary>
    [Id(11)] public long? CheckpointStep { get; init; }

    /// <summary>Where the latest checkpoint is.</summary>
    [Id(12)] public string? Checkpoint { get; init; }

    [Id(13)] public string? Error { get; init; }

    /// <summary>Why the job stopped: "all steps done", "time budget reached", "cancelled".</summary>
    [Id(14)] public string? StopReason { get; init; }

    [Id(15)] public DateTimeOffset Created { get; init; }

    [Id(16)] public DateTimeOffset Updated { get; init; }

    /// <summary>Wall time of the training loop since the job (re)started.</summary>
    [Id(17)] public TimeSpan Elapsed { get; init; }

    /// <summary>
    /// Training time over the job's whole life at its last committed step, validations left out: it carries on across
    /// coordinator take-overs and restores, so the time budget (<c>--minutes</c>) and the learning-rate schedule count
    /// it, not the time since the job last started.
    /// </summary>
    [Id(47)] public TimeSpan TrainingTime { get; init; }

    /// <summary>Parameters of the model.</summary>
    [Id(18)] public long Parameters { get; init; }

    /// <summary>Bytes of gradient and parameter messages the workers sent and received at the last step, per worker.</summary>
    [Id(19)] public long BytesPerWorkerStep { get; init; }

    /// <summary>The silo the job's coordinator runs on (its address).</summary>
    [Id(20)] public string? Coordinator { get; init; }

    /// <summary>Seconds the slowest worker spent in forward and backward at the last step.</summary>
    [Id(21)] public double ComputeSeconds { get; init; }

    /// <summary>Seconds the slowest worker spent sending its gradient and pulling the new parameters at the last step.</summary>
    [Id(22)] public double SyncSeconds { get; init; }

    /// <summary>Seconds of the last step as the coordinator saw it: from opening it to every worker's report.</summary>
    [Id(23)] public double StepSeconds { get; init; }

    /// <summary>Seconds of the last step spent opening it on the reducers and starting the workers.</summary>
    [Id(24)] public double OpenSeconds { get; init; }

    /// <summary>Tiles per second over the last <see cref="RecentWindow"/> committed steps (current throughput).</summary>
    [Id(25)] public double RecentTilesPerSecond { get; init; }

    /// <summary>Times a coordinator on another silo took the job over from its record (its coordinator's silo died).</summary>
    [Id(26)] public int Takeovers { get; init; }

    /// <summary>Step of the newest checkpoint handed to the background upload (it may not be written yet).</summary>
    [Id(27)] public long? CheckpointRequestedStep { get; init; }

    /// <summary>Failed checkpoint upload attempts since the last written checkpoint (they are retried with backoff).</summary>
    [Id(28)] public int CheckpointFailures { get; init; }

    /// <summary>The last checkpoint upload error, while uploads fail.</summary>
    [Id(29)] public string? CheckpointError { get; init; }

    /// <summary>Seconds the last checkpoint held training: pulling the optimizer state and taking the snapshot (not the upload).</summary>
    [Id(30)] public double CheckpointStallSeconds { get; init; }

    /// <summary>Bytes of the latest written checkpoint.</summary>
    [Id(31)] public long CheckpointBytes { get; init; }

    /// <summary>Why a job that is not stepping waits, e.g. "waiting for 5 workers, 2 live"; null while it steps.</summary>
    [Id(32)] public string? Waiting { get; init; }

    /// <summary>Takeovers since the job last committed a step: a job whose coordinators keep dying is failed, not resumed forever.</summary>
    [Id(33)] public int TakeoversWithoutStep { get; init; }

    /// <summary>The latest validation of the model, if any.</summary>
    [Id(34)] public ValidationResult? Validation { get; init; }

    /// <summary>
    /// The validation whose checkpoint is the job's best: the latest one whose value is the highest so far
    /// (<see cref="HighestValidation"/>) or within one standard error of it (of the difference, paired over the same
    /// sections). With a handful of validation sections the metric is noisy, and an earlier checkpoint that wins by less
    /// than that noise is no evidence against the later, longer-trained one (the one-standard-error rule of model
    /// selection, here preferring the later checkpoint).
    /// </summary>
    [Id(35)] public ValidationResult? BestValidation { get; init; }

    /// <summary>The validation with the highest value of the selection metric so far (lowest for the errors).</summary>
    [Id(46)] public ValidationResult? HighestValidation { get; init; }

    /// <summary>Validations in a row that did not improve on <see cref="HighestValidation"/> (early stopping counts them).</summary>
    [Id(36)] public int ValidationsWithoutImprovement { get; init; }

    /// <summary>Where the best checkpoint is (the one <see cref="BestValidation"/> scored), once written.</summary>
    [Id(37)] public string? BestCheckpoint { get; init; }

    /// <summary>Why the last validation failed, while it fails (training goes on; the next one is tried as planned).</summary>
    [Id(38)] public string? ValidationError { get; init; }

    /// <summary>The device and precision each worker of the last step computed in, in worker order, e.g. "cpu bf16".</summary>
    [Id(39)] public IReadOnlyList<string> WorkerCompute { get; init; } = [];

    /// <summary>
    /// The memory each worker of the last step had in use when it reported, in bytes and worker order (same order as
    /// <see cref="WorkerCompute"/>; 0 where a worker did not measure it): so an operator sees which silo runs out first.
    /// </summary>
    [Id(40)] public IReadOnlyList<long> WorkerMemoryBytes { get; init; } = [];

    /// <summary>
    /// Why the last recomputed step was recomputed, with the step, the worker and its tiles (a worker lost, a gradient a
    /// reducer refused as not finite, ...); null while no step was.
    /// </summary>
    [Id(43)] public string? LastRecompute { get; init; }

    /// <summary>
    /// The reducer grains holding the job's state, by shard: the one each worker talks to. A coordinator that takes
    /// the job over adopts them (and their copies) when they are still there, instead of going back to a checkpoint.
    /// </summary>
    [Id(41)] public IReadOnlyList<string> Reducers { get; init; } = [];

    /// <summary>
    /// By shard, the reducer on another silo that holds a copy of its state at every committed step (empty string: none
    /// at the moment, e.g. with one silo; empty list: copies off).
    /// </summary>
    [Id(42)] public IReadOnlyList<string> ReducerCopies { get; init; } = [];

    /// <summary>Reducers rebuilt from their copy on another silo after a silo was lost, and coordinators that adopted the reducers of the one before.</summary>
    [Id(44)] public int ReducersRecovered { get; init; }

    /// <summary>A prediction job's progress, outputs and item errors; null for a training job.</summary>
    [Id(45)] public PredictionProgress? Prediction { get; init; }

    /// <summary>Committed steps <see cref="RecentTilesPerSecond"/> is measured over.</summary>
    public const int RecentWindow = 5;

    public bool IsFinished => State is JobState.Completed or JobState.Cancelled or JobState.Failed or JobState.CompletedWithErrors;
}

/// <summary>The answer to a submit: the new job, or why the spec was refused (nothing was created then).</summary>
[GenerateSerializer, Immutable, Alias("UNetCluster.SubmitResult")]
public sealed record SubmitResult([property: Id(0)] string? JobId, [property: Id(1)] IReadOnlyList<string> Errors)
{
    public bool Accepted => JobId is not null;
}
