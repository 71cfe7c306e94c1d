using Microsoft.Extensions.Options;
using UNetCluster.Model.Checkpoints;
using UNetCluster.Silo.Hosting;

namespace UNetCluster.Silo.Jobs;

/// <summary>
/// The job folders under the shared storage root: by default <c>{Root}/jobs/{job}/checkpoints</c> (DESIGN.md's blob
/// layout); the embedded <c>unet train</c> puts them in its run folder's <c>checkpoints/</c>.
/// </summary>
public sealed class JobStorage(IOptions<UNetSiloOptions> options)
{
    private readonly string _pattern = options.Value.Storage.Checkpoints;

    public string Root { get; } = Path.GetFullPath(options.Value.Storage.Root);

    public string CheckpointsDirectory(string jobId) => Path.Combine(Root, _pattern.Replace("{job}", jobId, StringComparison.Ordinal));

    public LocalCheckpointStore Checkpoints(string jobId) => new(CheckpointsDirectory(jobId));
}
