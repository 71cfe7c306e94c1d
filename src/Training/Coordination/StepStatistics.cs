using UNetCluster.Contracts.Jobs;
using UNetCluster.Contracts.Messages;

namespace UNetCluster.Training.Coordination;

/// <summary>
/// What a job's status says of its committed steps: the loss (mean over the workers' tiles) and its exponential
/// smoothing, the throughput since the reducers were last set up and over the last <see cref="JobStatus.RecentWindow"/>
/// steps, the slowest worker's compute and sync times, and each worker's device, precision and memory in use.
/// </summary>
public sealed class StepStatistics
{
    private readonly Queue<(TimeSpan At, int Tiles)> _recent = new();
    private long _committedSinceRestart;

    /// <summary>The smoothed loss (0.9 of the previous value), null before the first step.</summary>
    public double? SmoothedLoss { get; private set; }

    /// <summary>Starts the throughput over (the job's clock restarts when its reducers are set up).</summary>
    public void Restart()
    {
        _recent.Clear();
        _committedSinceRestart = 0;
    }

    /// <summary>
    /// The status after step <paramref name="version"/> committed with <paramref name="reports"/> after
    /// <paramref name="elapsed"/> of training (validations left out, so the throughput is the training rate).
    /// </summary>
    public JobStatus Commit(JobStatus status, long version, int tiles, IReadOnlyList<StepReport> reports, IReadOnlyList<string> workers, TimeSpan elapsed, double openSeconds, double stepSeconds)
    {
        ArgumentNullException.ThrowIfNull(status);
        ArgumentNullException.ThrowIfNull(reports);
        var loss = reports.Sum(r => r.Loss * r.Samples) / reports.Sum(r => r.Samples);
        SmoothedLoss = SmoothedLoss is { } s ? (0.9 * s) + (0.1 * loss) : loss;
        _committedSinceRestart++;
        _recent.Enqueue((elapsed, tiles));
        while (_recent.Count > JobStatus.RecentWindow + 1)
        {
            _recent.Dequeue();
        }

        var recent = _recent.Count > 1
            ? _recent.Skip(1).Sum(r => r.Tiles) / Math.Max((_recent.Last().At - _recent.Peek().At).TotalSeconds, 1e-9)
            : 0;
        return status with
        {
            State = JobState.Running,
            Step = version,
            Loss = loss,
            SmoothedLoss = SmoothedLoss,
            Workers = workers,
            WorkerCompute = [.. reports.OrderBy(r => r.WorkerIndex).Select(r => r.Compute ?? "unknown")],
            WorkerMemoryBytes = [.. reports.OrderBy(r => r.WorkerIndex).Select(r => r.MemoryBytes)],
            Elapsed = elapsed,
            TilesPerSecond = _committedSinceRestart * tiles / Math.Max(elapsed.TotalSeconds, 1e-9),
            RecentTilesPerSecond = recent,
            BytesPerWorkerStep = (long)reports.Average(r => r.BytesSent + r.BytesReceived),
            ComputeSeconds = reports.Max(r => r.ComputeTime.TotalSeconds),
            SyncSeconds = reports.Max(r => r.SyncTime.TotalSeconds),
            StepSeconds = stepSeconds,
            OpenSeconds = openSeconds,
        };
    }
}
