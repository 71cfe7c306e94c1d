using UNetCluster.Contracts.Jobs;

namespace UNetCluster.Client.Cluster;

/// <summary>A silo of the cluster as <c>unet silos</c> shows it: its address and membership status (active, joining, dead ...).</summary>
internal sealed record SiloView(string Address, string Status);

/// <summary>
/// What the cluster verbs (submit, status, watch, list, cancel, silos, predict --cluster) ask of a cluster, whichever
/// way it is reached: as an Orleans client through its gateway or Redis membership (<see cref="GrainJobClient"/>), or
/// over a silo's REST API (<see cref="RestJobClient"/>, <c>--api URL</c>).
/// </summary>
internal interface IJobClient : IAsyncDisposable
{
    /// <summary>Where the cluster is, for messages: "the gateway 127.0.0.1:30000", "the API at http://...".</summary>
    string Describe();

    /// <summary>Submits a training or prediction job; a spec the cluster refuses comes back with its errors, nothing created.</summary>
    Task<SubmitResult> SubmitAsync(JobSpec spec, string? jobId, CancellationToken cancellationToken);

    /// <summary>A job's status; an unknown job is a <see cref="Commands.UserInputException"/>.</summary>
    Task<JobStatus> GetStatusAsync(string jobId, CancellationToken cancellationToken);

    /// <summary>A job's steps, checkpoints and validations; an unknown job is a <see cref="Commands.UserInputException"/>.</summary>
    Task<JobHistory> GetHistoryAsync(string jobId, CancellationToken cancellationToken);

    /// <summary>Every job the cluster knows.</summary>
    Task<IReadOnlyList<JobStatus>> ListAsync(CancellationToken cancellationToken);

    /// <summary>Asks a job to stop at its next step boundary; returns its status.</summary>
    Task<JobStatus> CancelAsync(string jobId, CancellationToken cancellationToken);

    /// <summary>The cluster's silos and their membership status.</summary>
    Task<IReadOnlyList<SiloView>> ListSilosAsync(CancellationToken cancellationToken);
}
