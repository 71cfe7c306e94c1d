using Microsoft.Extensions.Logging;
using UNetCluster.Contracts.Grains;
using UNetCluster.Contracts.Jobs;
using UNetCluster.Contracts.Messages;
using UNetCluster.Silo.Coordination;
using UNetCluster.Training.Coordination;
using UNetCluster.Training.Jobs;
using UNetCluster.Training.Reports;

namespace UNetCluster.Silo.Grains;

/// <summary>
/// The coordinator of one job. The job's record is its state (<see cref="JobLease"/>): an activation takes an
/// unfinished job over by writing the record with its own owner tag and resumes it from the latest checkpoint, and
/// stops at once if another coordinator has taken the record. The steps are run by a <see cref="StepLoop"/> in this
/// grain's context; the grain's turns start it, answer for the job's status, and pass it reports and cancels.
/// </summary>
public sealed partial class TrainingJobGrain(
    IClusterMembershipService membership, ILocalSiloDetails silo, JobRecordStore records, JobStorage storage, ILogger<TrainingJobGrain> logger) : Grain, ITrainingJobGrain
{
    private JobLease? _lease;    // the job's record as this activation holds it
    private IJobLoop? _loop;     // the running step loop (or a prediction job's loop); null when none runs here

    private string Id => this.GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        await TakeOverIfUnfinishedAsync(cancellationToken);
        await base.OnActivateAsync(cancellationToken);
    }

    public async Task StartAsync(JobSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (_loop is not null)
        {
            if (_lease!.Status!.Spec == spec)
            {
                return;
            }

            throw new InvalidOperationException($"Job {Id} is already running with another spec.");
        }

        // The registry has just written (or rewritten) the record: take it over.
        if (!await TakeOverIfUnfinishedAsync(CancellationToken.None))
        {
            var status = _lease?.Status;
            throw new InvalidOperationException($"Job {Id} could not be started: {(status is null ? "it has no record" : $"it is {status.State.ToString().ToLowerInvariant()}")}.");
        }
    }

    public async Task<JobStatus> GetStatusAsync()
    {
        if (_lease?.Status is not { } status || (_loop is null && !status.IsFinished))
        {
            await TakeOverIfUnfinishedAsync(CancellationToken.None);
        }

        if (_lease?.Status is { } current)
        {
            return current;
        }

        DeactivateOnIdle();
        throw new KeyNotFoundException($"job '{Id}' is unknown: 'unet list' shows the cluster's jobs.");
    }

    public async Task<JobStatus> CancelAsync()
    {
        var status = await GetStatusAsync();
        if (!status.IsFinished)
        {
            _loop?.Cancel();
        }

        return status;
    }

    public Task ReportStepAsync(StepReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        (_loop as StepLoop)?.Report(report);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Reads the job's record; when the job is unfinished and no loop runs here, takes it over and starts the loop,
    /// which resumes from the latest checkpoint. True when the loop runs here afterwards.
    /// </summary>
    private async Task<bool> TakeOverIfUnfinishedAsync(CancellationToken cancellationToken)
    {
        if (_loop is not null)
        {
            return true;
        }

        var lease = new JobLease(Id, silo.SiloAddress.ToParsableString(), records, logger);
        var taken = await lease.TryTakeOverAsync(this.GetGrainId().ToString(), cancellationToken);
        if (lease.Status is not null || _lease is null)
        {
            _lease = lease;
        }

        if (!taken)
        {
            return false;
        }

        var cluster = new OrleansJobCluster(Id, GrainFactory, membership);
        IJobLoop loop = lease.Status!.Spec.Prediction is null
            ? new StepLoop(Id, lease, cluster, logger)
            : new PredictionLoop(Id, lease, cluster, storage.Blobs, logger);
        _loop = loop;
        this.DelayDeactivation(TimeSpan.FromDays(30));
        _ = RunAsync(loop);
        return true;
    }

    private async Task RunAsync(IJobLoop loop)
    {
        try
        {
            await loop.RunAsync();
            if (loop is StepLoop && _lease?.Status is { IsFinished: true } status)
            {
                await WriteReportAsync(status);
            }
        }
        finally
        {
            _loop = null;
        }
    }

    /// <summary>
    /// A finished training job's <c>report.html</c> and <c>history.csv</c> beside its record (<see cref="JobReports"/>);
    /// a failure to write them is logged and does not change the job.
    /// </summary>
    private async Task WriteReportAsync(JobStatus status)
    {
        try
        {
            var history = await GrainFactory.GetGrain<IJobHistoryGrain>(Id).GetAsync(-1);
            var name = await JobReports.WriteAsync(storage.Blobs, status, history, CancellationToken.None);
            LogReportWritten(logger, Id, name);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or UnauthorizedAccessException or Azure.RequestFailedException or OrleansException or TimeoutException)
        {
            LogReportFailed(logger, e, Id);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: report written to {Report}")]
    private static partial void LogReportWritten(ILogger logger, string jobId, string report);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: its report could not be written")]
    private static partial void LogReportFailed(ILogger logger, Exception exception, string jobId);
}
