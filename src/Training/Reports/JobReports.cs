using System.Text;
using UNetCluster.Contracts.Jobs;
using UNetCluster.Data.Storage;
using UNetCluster.Training.Jobs;

namespace UNetCluster.Training.Reports;

/// <summary>
/// A cluster job's report in its storage (DESIGN.md's blob layout): <c>jobs/{job}/report.html</c> and
/// <c>jobs/{job}/history.csv</c>, beside its record and checkpoints, written by its coordinator when the job ends.
/// </summary>
public static class JobReports
{
    /// <summary>Why a cluster job's report has no contact sheet.</summary>
    public const string NoOverlays =
        "No overlays: a cluster job's workers score their validation sections without drawing them; 'unet train' runs draw them, " +
        "and 'unet predict --cluster --from-job JOB' predicts images with the job's best checkpoint.";

    public static string ReportName(string jobId) => JobRecordStore.FileOf(jobId, RunReport.FileName);

    public static string HistoryName(string jobId) => JobRecordStore.FileOf(jobId, HistoryCsv.FileName);

    /// <summary>The report of a job from its status and history, without overlays (<see cref="NoOverlays"/>).</summary>
    public static RunReportContent Content(JobStatus status, JobHistory history)
    {
        ArgumentNullException.ThrowIfNull(status);
        return new RunReportContent(status.Id, status, history, [], NoOverlays, status.BestValidation?.Step);
    }

    /// <summary>Writes (or replaces) the job's report and history in <paramref name="blobs"/>; returns the report's name.</summary>
    public static async Task<string> WriteAsync(IBlobStore blobs, JobStatus status, JobHistory history, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(blobs);
        ArgumentNullException.ThrowIfNull(status);
        ArgumentNullException.ThrowIfNull(history);
        await blobs.WriteAsync(HistoryName(status.Id), Encoding.UTF8.GetBytes(HistoryCsv.Render(history)), BlobCondition.None, cancellationToken).ConfigureAwait(false);
        await blobs.WriteAsync(ReportName(status.Id), Encoding.UTF8.GetBytes(RunReport.Render(Content(status, history))), BlobCondition.None, cancellationToken).ConfigureAwait(false);
        return ReportName(status.Id);
    }
}
