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

    /// <summary>weighted-cross-entropy or soft-dice.</summary>
    [Id(10)] public string? Loss { get; init; }

    [Id(11)] public int? ValidationSections { get; init; }

    [Id(12)] public bool? BalanceClasses { get; init; }

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

    /// <summary>fp32 or bf16: the number format of the workers' forward and backward pass; null for the preset's (fp32).</summary>
    [Id(21)] public string? Precision { get; init; }   // 17-20: main's validation fields (issue 16)
}
