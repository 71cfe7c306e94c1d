namespace UNetCluster.Contracts.Jobs;

/// <summary>
/// A prediction job (<see cref="JobSpec.Prediction"/>): a trained checkpoint applied to a set of images in the cluster's
/// storage, its outputs written under <c>predictions/{job}/</c> with a manifest. One checkpoint source and one input
/// source are named; null means the default. The cluster checks it on submit and stores it with the checkpoint resolved
/// to one step's folder (<see cref="Checkpoint"/>), so that every worker and any later coordinator use the same one.
/// </summary>
[GenerateSerializer, Immutable, Alias("UNetCluster.PredictionSpec")]
public sealed record PredictionSpec
{
    /// <summary>A training job whose checkpoint is used: its best by validation, else its latest (see <see cref="Latest"/>).</summary>
    [Id(0)] public string? FromJob { get; init; }

    /// <summary>With <see cref="FromJob"/>: its latest checkpoint, not its best.</summary>
    [Id(1)] public bool Latest { get; init; }

    /// <summary>
    /// A checkpoint's folder in the cluster's storage (the prefix holding its <c>manifest.json</c>, e.g.
    /// <c>jobs/j1/checkpoints/000000500</c>). Set by the cluster from <see cref="FromJob"/> when that is given.
    /// </summary>
    [Id(2)] public string? Checkpoint { get; init; }

    /// <summary>A stored data set (<c>unet dataset upload</c>) whose images are predicted (its masks are not read).</summary>
    [Id(3)] public string? DataSet { get; init; }

    /// <summary>A prefix in the cluster's storage under which every PNG and TIFF is predicted (e.g. <c>uploads/volume-7/</c>).</summary>
    [Id(4)] public string? Prefix { get; init; }

    /// <summary>Input tile size; null for the checkpoint's training tile size.</summary>
    [Id(5)] public int? TileSize { get; init; }

    /// <summary>Tiles per forward pass; null for 4.</summary>
    [Id(6)] public int? BatchSize { get; init; }

    /// <summary>Average over the 8 flips and 90-degree rotations (8 times the work; not for images split into blocks).</summary>
    [Id(7)] public bool Tta { get; init; }

    /// <summary>fp32 or bf16: the forward pass's number format; null for fp32.</summary>
    [Id(8)] public string? Precision { get; init; }

    /// <summary>The foreground probability from which a pixel is foreground (two classes); null for the checkpoint's calibrated one, else 0.5.</summary>
    [Id(9)] public double? Threshold { get; init; }

    /// <summary>Also write 16-bit object labels; null for on with a checkpoint trained on instance masks (border class or validated on them), off otherwise.</summary>
    [Id(10)] public bool? Instances { get; init; }

    /// <summary>Write an overlay per image; null for on.</summary>
    [Id(11)] public bool? Overlays { get; init; }

    /// <summary>
    /// Output pixels a block spans along each side: an image with more than one block of output tiles is cut into
    /// blocks that workers predict independently; null for 2048. Outputs equal a local prediction with the same size.
    /// </summary>
    [Id(12)] public int? BlockSize { get; init; }

    /// <summary>Workers the job waits for before it starts and uses at most; null for every live one, starting with one.</summary>
    [Id(13)] public int? Workers { get; init; }

    /// <summary>With object labels: objects of fewer pixels are left out of them; null or 0 keeps all.</summary>
    [Id(15)] public int? MinObjectPixels { get; init; }

    /// <summary>The sha256 of the checkpoint's manifest, set by the cluster on submit: every worker checks the checkpoint it loads against it.</summary>
    [Id(14)] public string? CheckpointSha256 { get; init; }

    /// <summary>Where the images come from, for people: "data set x" or "prefix p".</summary>
    public string DescribeInput() => DataSet is { } name ? $"data set {name}" : $"prefix {Prefix}";
}

/// <summary>Where a prediction job is (<see cref="JobStatus.Prediction"/>).</summary>
[GenerateSerializer, Immutable, Alias("UNetCluster.PredictionProgress")]
public sealed record PredictionProgress
{
    /// <summary>Input files found.</summary>
    [Id(0)] public int Files { get; init; }

    /// <summary>Images (pages) written, each with all its outputs.</summary>
    [Id(1)] public int ImagesDone { get; init; }

    /// <summary>Units of work (a file, a block of an image, an image's assembly) planned so far and done.</summary>
    [Id(2)] public int Units { get; init; }

    [Id(3)] public int UnitsDone { get; init; }

    /// <summary>Images per second since the job (re)started.</summary>
    [Id(4)] public double ImagesPerSecond { get; init; }

    /// <summary>Items that could not be predicted, each with its file and why; the job goes on with the rest.</summary>
    [Id(5)] public IReadOnlyList<string> Errors { get; init; } = [];

    /// <summary>Where the outputs are: the storage location of <c>predictions/{job}/</c>.</summary>
    [Id(6)] public string? Outputs { get; init; }

    /// <summary>The checkpoint used: its location and step.</summary>
    [Id(7)] public string? Checkpoint { get; init; }

    /// <summary>Units handed to another worker because theirs left the cluster or failed.</summary>
    [Id(8)] public int Reassigned { get; init; }

    /// <summary>Files written under <see cref="Outputs"/>, once the manifest is.</summary>
    [Id(9)] public int OutputFiles { get; init; }
}
