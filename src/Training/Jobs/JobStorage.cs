using Microsoft.Extensions.Logging;
using UNetCluster.Data.Storage;
using UNetCluster.Model.Checkpoints;
using UNetCluster.Training.Checkpoints;
using UNetCluster.Training.Settings;

namespace UNetCluster.Training.Jobs;

/// <summary>
/// The cluster's shared storage (DESIGN.md's blob layout): job records <c>jobs/{job}/record.json</c> in an Azure Blob
/// container when <c>UNetCluster:Storage:Blob</c> (a connection string) or <c>UNetCluster:Storage:BlobUri</c> (the
/// blob service, reached by Azure AD identity) is set, otherwise under the folder <c>UNetCluster:Storage:Root</c>, and
/// checkpoints beside them in <c>jobs/{job}/checkpoints/{step}/</c> with the pointer <c>jobs/{job}/latest</c> (the
/// embedded <c>unet train</c> puts them in its run folder's <c>checkpoints/</c>).
/// </summary>
public sealed class JobStorage
{
    private readonly string _pattern;
    private readonly string _latest;
    private readonly int _keepLast;

    public JobStorage(StorageSettings storage)
    {
        _pattern = storage.Checkpoints;
        _latest = storage.Latest;
        _keepLast = storage.KeepLast;
        Root = Path.GetFullPath(storage.Root);
        if (!storage.UsesAzure)
        {
            Blobs = new FileBlobStore(Root);
        }
        else
        {
            var azure = string.IsNullOrWhiteSpace(storage.Blob)
                ? AzureBlobStore.Connect(new Uri(storage.BlobUri!), AzureIdentity.DefaultCredential(), storage.Container)
                : AzureBlobStore.Connect(storage.Blob, storage.Container);
            azure.Container.CreateIfNotExists();
            Blobs = azure;
        }
    }

    public string Root { get; }

    /// <summary>Where job records live: a folder or a blob container.</summary>
    public IBlobStore Blobs { get; }

    /// <summary>A job's checkpoints: <c>{Checkpoints}/{step}/</c> and the <c>{Latest}</c> pointer, in <see cref="Blobs"/>.</summary>
    public CheckpointStore Checkpoints(string jobId, ILogger? logger = null) =>
        new(Blobs, _pattern.Replace("{job}", jobId, StringComparison.Ordinal), _latest.Replace("{job}", jobId, StringComparison.Ordinal),
            new CheckpointRetention(_keepLast), logger);
}
