using System.Text.Json;
using UNetCluster.Data.Storage;
using UNetCluster.Model.Checkpoints;

namespace UNetCluster.Training.Checkpoints;

/// <summary>
/// A <see cref="CheckpointStore"/> on a local folder (a <see cref="FileBlobStore"/>): the step folders and the
/// <c>latest</c> pointer directly in <see cref="Root"/>, as <c>unet train</c>'s run folders and the silos' shared
/// storage root have them.
/// </summary>
public sealed class LocalCheckpointStore : CheckpointStore
{
    public LocalCheckpointStore(string root, int keepLast = 3)
        : this(new FileBlobStore(root), keepLast)
    {
    }

    private LocalCheckpointStore(FileBlobStore blobs, int keepLast)
        : base(blobs, "", LatestPointer, new CheckpointRetention(keepLast))
    {
        Root = blobs.Root;
    }

    /// <summary>The folder holding the step folders and the <c>latest</c> pointer.</summary>
    public string Root { get; }

    /// <summary>The step folders present (complete or not), oldest first.</summary>
    public IReadOnlyList<string> List() =>
        ListStepsAsync().GetAwaiter().GetResult().Select(s => Path.Combine(Root, StepName(s))).ToList();

    /// <summary>Loads a checkpoint folder (the one holding its manifest), verifying the hash of every file.</summary>
    public static LoadedCheckpoint Load(string directory) =>
        LoadFolderAsync(new FileBlobStore(directory), "", CancellationToken.None).GetAwaiter().GetResult();

    /// <summary>
    /// Records a calibrated decision threshold in a checkpoint folder's manifest (rewritten atomically; the weights
    /// and their hashes are unchanged). Returns the checkpoint folder.
    /// </summary>
    public static string SetThreshold(string directory, double threshold)
    {
        var blobs = new FileBlobStore(directory);
        var read = blobs.ReadAsync(CheckpointManifest.FileName).GetAwaiter().GetResult()
            ?? throw new InvalidDataException($"{blobs.Describe(CheckpointManifest.FileName)} does not exist.");
        var manifest = JsonSerializer.Deserialize<CheckpointManifest>(read.Content, CheckpointManifest.JsonOptions)
            ?? throw new InvalidDataException($"{blobs.Describe(CheckpointManifest.FileName)} is empty.");
        blobs.WriteAsync(CheckpointManifest.FileName, JsonSerializer.SerializeToUtf8Bytes(manifest with { Threshold = threshold }, CheckpointManifest.JsonOptions),
            BlobCondition.IfMatch(read.ETag)).GetAwaiter().GetResult();
        return directory;
    }
}
