namespace UNetCluster.Contracts.Messages;

/// <summary>What a prediction unit does (<see cref="PredictionUnit"/>).</summary>
public enum UnitKind
{
    /// <summary>Predict every page of a file whole; a page larger than one block is reported back to be cut into blocks.</summary>
    File,

    /// <summary>Predict one block of a page's output tiles and store its maps until the page is assembled.</summary>
    Block,

    /// <summary>Stitch a page's stored block maps and write its outputs.</summary>
    Assemble,
}

/// <summary>
/// One unit of a prediction job's work. <see cref="Id"/> names it in the job (and its done marker in storage);
/// <see cref="Blob"/> is the input file in the cluster's storage, with its size and sha256 when a data set's manifest
/// gives them; <see cref="Stem"/> the name its outputs start with. A block names the page and its place in the page's
/// block grid (<see cref="Block"/> of <see cref="Blocks"/>).
/// </summary>
[GenerateSerializer, Immutable, Alias("UNetCluster.PredictionUnit")]
public sealed record PredictionUnit(
    [property: Id(0)] string Id,
    [property: Id(1)] UnitKind Kind,
    [property: Id(2)] string Blob,
    [property: Id(3)] string Stem,
    [property: Id(4)] long? Bytes = null,
    [property: Id(5)] string? Sha256 = null,
    [property: Id(6)] int Page = 0,
    [property: Id(7)] int Block = 0,
    [property: Id(8)] int Blocks = 0);

/// <summary>
/// Units for one worker of a prediction job, with what every unit needs: the spec as stored (its checkpoint resolved to
/// one step's folder) and the sha256 of the checkpoint's manifest, which the worker checks the checkpoint it loads
/// against (a checkpoint rewritten since the job started is refused, not silently used).
/// </summary>
[GenerateSerializer, Immutable, Alias("UNetCluster.PredictionPlan")]
public sealed record PredictionPlan(
    [property: Id(0)] string JobId,
    [property: Id(1)] Jobs.PredictionSpec Spec,
    [property: Id(2)] string CheckpointSha256,
    [property: Id(3)] IReadOnlyList<PredictionUnit> Units);

/// <summary>A file written under <c>predictions/{job}/</c>: its name there, size and sha256.</summary>
[GenerateSerializer, Immutable, Alias("UNetCluster.OutputFile")]
public sealed record OutputFile([property: Id(0)] string Name, [property: Id(1)] long Bytes, [property: Id(2)] string Sha256);

/// <summary>
/// A finished unit: the outputs it wrote (for a file or an assembly, the pages' files; for a block, nothing final), or
/// the error of an item that cannot be predicted (an unreadable image, one of the wrong channel count), or the pages
/// that must be cut into blocks (<see cref="Split"/>). With <see cref="Retry"/> the unit is not done (storage away, the
/// worker stopping): <see cref="Error"/> says why, and the coordinator hands it out again.
/// </summary>
[GenerateSerializer, Immutable, Alias("UNetCluster.UnitReport")]
public sealed record UnitReport(
    [property: Id(0)] string UnitId,
    [property: Id(1)] IReadOnlyList<OutputFile> Files,
    [property: Id(2)] string? Error = null,
    [property: Id(3)] IReadOnlyList<PageSize>? Split = null,
    [property: Id(4)] int Images = 0,
    [property: Id(5)] double Seconds = 0,
    [property: Id(6)] bool Retry = false,
    [property: Id(7)] string? Worker = null);

/// <summary>A page of a file that is predicted in blocks: its index, size and number of blocks.</summary>
[GenerateSerializer, Immutable, Alias("UNetCluster.PageSize")]
public sealed record PageSize([property: Id(0)] int Page, [property: Id(1)] int Width, [property: Id(2)] int Height, [property: Id(3)] int Blocks);

/// <summary>A worker's finished units of a job, and how many it still holds.</summary>
[GenerateSerializer, Immutable, Alias("UNetCluster.UnitReports")]
public sealed record UnitReports([property: Id(0)] IReadOnlyList<UnitReport> Done, [property: Id(1)] int Pending);
