using Microsoft.Extensions.Options;
using UNetCluster.Model.Checkpoints;
using UNetCluster.Silo.Hosting;

namespace UNetCluster.Silo.Jobs;

/// <summary>The job folders under the shared storage root: <c>{Root}/jobs/{job}/checkpoints</c> (DESIGN.md's blob layout).</summary>
public sealed class JobStorage(IOptions<UNetSiloOptions> options)
{
    public string Root { get; } = Path.GetFullPath(options.Value.Storage.Root);

    public string JobDirectory(string jobId) => Path.Combine(Root, "jobs", jobId);

    public LocalCheckpointStore Checkpoints(string jobId) => new(Path.Combine(JobDirectory(jobId), "checkpoints"));
}
