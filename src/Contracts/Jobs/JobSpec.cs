namespace UNetCluster.Contracts.Jobs;

/// <summary>
/// A training job as a user submits it: a named data set, a preset and the overrides of the preset. Every field is
/// checked by the cluster on submit; a refused spec leaves no trace. Null means "the preset's value".
/// </summary>
[GenerateSerializer, Immutable, Alias("UNetCluster.JobSpec")]
public sealed record JobSpec
{
    /// <summary>Name of a data set known to the cluster (the bundled one is <c>isbi2012-em</c>).</summary>
    [Id(0)] public string DataSet { get; init; } = "isbi2012-em";

    /// <summary>Training preset (quick, quality, paper, tiny).</summary>
    [Id(1)] public string Preset { get; init; } = "quick";

    /// <summary>Seed of the initial weights, tile positions and augmentation.</summary>
    [Id(2)] public long Seed { get; init; } = 42;

    [Id(3)] public long? Steps { get; init; }

    [Id(4)] public double? Minutes { get; init; }

    [Id(5)] public int? TileSize { get; init; }

    /// <summary>Tiles per step over all workers together (the global batch).</summary>
    [Id(6)] public int? BatchSize { get; init; }

    [Id(7)] public int? BaseChannels { get; init; }

    [Id(8)] public double? LearningRate { get; init; }

    /// <summary>sgd or adam.</summary>
    [Id(9)] public string? Optimizer { get; init; }

    /// <summary>weighted-cross-entropy, soft-dice or dice-cross-entropy.</summary>
    [Id(10)] public string? Loss { get; init; }

    [Id(11)] public int? ValidationSections { get; init; }

    [Id(12)] public bool? BalanceClasses { get; init; }

    /// <summary>
    /// Fixed cross-entropy weights by class index, comma-separated, one per class (such as "1,1,100"), in place of the
    /// class balance; null for the preset's. A string so that two specs compare equal by value.
    /// </summary>
    [Id(38)] public string? ClassWeights { get; init; }

    [Id(13)] public int? CheckpointEvery { get; init; }

    /// <summary>
    /// Workers (one per silo) the job waits for before its first step and uses at most; it goes on with fewer when
    /// some are lost. Null: every live worker, starting with one.
    /// </summary>
    [Id(14)] public int? Workers { get; init; }

    /// <summary>Reducer grains the parameter vector is cut into; null for one per live worker.</summary>
    [Id(15)] public int? Reducers { get; init; }

    /// <summary>Size of a gradient or parameter message in KiB; null for the default (4096 KiB).</summary>
    [Id(16)] public int? BucketKiB { get; init; }

    /// <summary>
    /// Keep a copy of each reducer's state on a second silo, so that losing any one silo recomputes at most the step in
    /// flight (DESIGN.md, failure model); null or true for on, false to save the bandwidth (the averaged gradient, 4
    /// bytes per parameter per step) and go back to the latest checkpoint when a reducer's silo is lost.
    /// </summary>
    [Id(34)] public bool? ReducerCopies { get; init; }

    /// <summary>Validate the model on the held-out sections every this many steps (and at the last step); null for the checkpoint interval.</summary>
    [Id(30)] public int? ValidateEvery { get; init; }

    /// <summary>Also validate when this many minutes have passed since the last validation; null for steps only.</summary>
    [Id(31)] public double? ValidateMinutes { get; init; }

    /// <summary>
    /// The metric that picks the best checkpoint and its decision threshold: pixel-error, rand-error (lower is better),
    /// dice, iou, object-f1 (higher is better); null for object-f1 on instance masks, pixel-error otherwise.
    /// </summary>
    [Id(32)] public string? SelectBy { get; init; }

    /// <summary>Stop after this many validations in a row without a better value of the selection metric; null never stops early.</summary>
    [Id(33)] public int? Patience { get; init; }
    /// <summary>Output classes of the model (2 to 256); null for 2, or for a class-mask data set its class count.</summary>
    [Id(17)] public int? Classes { get; init; }

    /// <summary>Instance masks trained as background / interior / border between touching objects (3 classes).</summary>
    [Id(18)] public bool? BorderClass { get; init; }

    /// <summary>With <see cref="BorderClass"/>: the border's width in pixels on each side of a contact; null for 1.</summary>
    [Id(35)] public int? BorderWidth { get; init; }

    /// <summary>With <see cref="BorderClass"/>: touching (the border where objects touch), outline (every object's outline) or core (every object but its core); null for touching.</summary>
    [Id(36)] public string? BorderKind { get; init; }

    /// <summary>The share of training tiles, 0 to 1, placed over a pixel of their section's rarest foreground class; null for the preset's.</summary>
    [Id(39)] public double? Oversample { get; init; }

    /// <summary>Learning-rate schedule: constant, cosine (decayed to 0 over the steps or the time budget) or cooldown (constant, then a straight line to 0 over the last fifth); null keeps the preset's.</summary>
    [Id(40)] public string? Schedule { get; init; }

    /// <summary>
    /// The classes' names by index, comma-separated (one per class), for legends and reports; null when the data does
    /// not name them. A string rather than a list so that two specs compare equal by value.
    /// </summary>
    [Id(19)] public string? ClassNames { get; init; }

    /// <summary>
    /// Input channels of the network (1 gray, 3 RGB); the data set's images must have this many. Null: the data set's
    /// own count, which the cluster writes into the spec it stores when it accepts the job.
    /// </summary>
    [Id(21)] public int? Channels { get; init; }

    /// <summary>Per-image intensity normalisation: mean-std (the preset's) or percentile (1st and 99.8th to 0 and 1).</summary>
    [Id(22)] public string? Normalisation { get; init; }

    /// <summary>fp32 or bf16: the number format of the workers' forward and backward pass; null for the preset's (fp32).</summary>
    [Id(23)] public string? Precision { get; init; }

    /// <summary>
    /// Set for a prediction job: a trained checkpoint applied to images (then the training fields are not used, and
    /// <see cref="DataSet"/> names the input for lists). Null for a training job.
    /// </summary>
    [Id(37)] public PredictionSpec? Prediction { get; init; }

    /// <summary>"train" or "predict", as <c>unet list</c> shows it.</summary>
    public string Kind => Prediction is null ? "train" : "predict";
}
