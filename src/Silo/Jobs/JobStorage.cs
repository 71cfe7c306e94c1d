using Microsoft.Extensions.Options;
using UNetCluster.Data.Storage;
using UNetCluster.Model.Checkpoints;
using UNetCluster.Silo.Hosting;

namespace UNetCluster.Silo.Jobs;

/// <summary>
/// The cluster's shared storage (DESIGN.md's blob layout): job records <c>jobs/{job}/record.json</c> in an Azure Blob
/// container when <c>UNetCluster:Storage:Blob</c> is set, otherwise under the folder <c>UNetCluster:Storage:Root</c>;
/// checkpoints in <c>{Root}/jobs/{job}/checkpoints</c> (the embedded <c>unet train</c> puts them in its run folder's
/// <c>checkpoints/</c>).
/// </summary>
public sealed class JobStorage : IDisposable
{
    private readonly string _pattern;
    private readonly FileBlobStore? _files;

    public JobStorage(IOptions<UNetSiloOptions> options)
    {
        var storage = options.Value.Storage;
        _pattern = storage.Checkpoints;
        Root = Path.GetFullPath(storage.Root);
        if (string.IsNullOrWhiteSpace(storage.Blob))
        {
            _files = new FileBlobStore(Root);
            Blobs = _files;
        }
        else
        {
            var azure = AzureBlobStore.Connect(storage.Blob, storage.Container);
            azure.Container.CreateIfNotExists();
            Blobs = azure;
        }
    }

    public string Root { get; }

    /// <summary>Where job records live: a folder or a blob container.</summary>
    public IBlobStore Blobs { get; }

    public string CheckpointsDirectory(string jobId) => Path.Combine(Root, _pattern.Replace("{job}", jobId, StringComparison.Ordinal));

    public LocalCheckpointStore Checkpoints(string jobId) => new(CheckpointsDirectory(jobId));

    public void Dispose() => _files?.Dispose();
}
