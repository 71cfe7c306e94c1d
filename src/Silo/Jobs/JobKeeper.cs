using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using UNetCluster.Contracts.Grains;
using UNetCluster.Training.Jobs;

namespace UNetCluster.Silo.Jobs;

/// <summary>
/// Keeps unfinished jobs running when their coordinator's silo dies (DESIGN.md's failure model: "the job grain
/// re-activates elsewhere from its record and resumes from latest"). Every few seconds it reads the job records and
/// calls each unfinished job whose coordinator's silo is no longer an active member, or whose record has not been
/// written for a while: the call activates the job's grain, which takes the record over. Every silo runs one; the
/// grain directory keeps one activation per job, and the record's ETag keeps one owner.
/// </summary>
public sealed partial class JobKeeper(IGrainFactory grains, JobRecordStore records, IClusterMembershipService membership, ILogger<JobKeeper> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan Silence = TimeSpan.FromMinutes(2);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                await KeepAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                // The silo may not be active yet, or storage unreachable: the next tick tries again.
                LogKeepFailed(e);
            }
        }
    }

    private async Task KeepAsync(CancellationToken cancellationToken)
    {
        var active = membership.CurrentSnapshot.Members.Values.Where(m => m.Status == SiloStatus.Active)
            .Select(m => m.SiloAddress.ToParsableString()).ToHashSet(StringComparer.Ordinal);
        foreach (var record in await records.ListAsync(cancellationToken).ConfigureAwait(false))
        {
            var status = record.Status;
            var orphaned = status.Coordinator is null || !active.Contains(status.Coordinator);
            if (status.IsFinished || (!orphaned && DateTimeOffset.UtcNow - status.Updated < Silence))
            {
                continue;
            }

            if (orphaned)
            {
                LogReviving(status.Id, status.Coordinator ?? "none", status.Step);
            }
            else
            {
                LogSilent(status.Id, status.Coordinator!, status.Updated, status.Step);
            }

            await grains.GetGrain<ITrainingJobGrain>(status.Id).GetStatusAsync().WaitAsync(TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: its coordinator ({Coordinator}) is gone at step {Step}; activating it on the cluster")]
    private partial void LogReviving(string jobId, string coordinator, long step);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: its coordinator ({Coordinator}) is a live silo but has not written the record since {Updated} (step {Step}); calling the job to wake it")]
    private partial void LogSilent(string jobId, string coordinator, DateTimeOffset updated, long step);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Checking the job records failed; trying again")]
    private partial void LogKeepFailed(Exception exception);
}
