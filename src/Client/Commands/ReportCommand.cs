using System.CommandLine;
using UNetCluster.Client.Cluster;
using UNetCluster.Contracts.Jobs;
using UNetCluster.Training.Reports;

namespace UNetCluster.Client.Commands;

/// <summary>
/// <c>unet report JOB</c>: writes a cluster job's <c>report.html</c> and <c>history.csv</c> into a local folder, from the
/// job's status and history as the cluster holds them (curves, validations, checkpoints, options); the same report the
/// job's coordinator writes beside its record when it ends (<see cref="JobReports"/>), for a job still running too.
/// </summary>
internal static class ReportCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var connection = new JobCommands.Connection();
        var id = new Argument<string>("job") { Description = "The job id." };
        var outDir = new Option<DirectoryInfo?>("--out") { Description = "Folder to write report.html and history.csv into (default: reports/<job>)." };
        var command = new Command("report", "Write a cluster job's self-contained report.html (curves, validations, options, checkpoints) and history.csv.") { id, outDir };
        connection.AddTo(command);
        command.SetAction((parse, cancellationToken) => CommandRunner.RunAsync(error, async () =>
        {
            var jobId = parse.GetValue(id)!;
            var folder = parse.GetValue(outDir)?.FullName ?? Path.GetFullPath(Path.Combine("reports", string.Concat(jobId.Select(c => Path.GetInvalidFileNameChars().Contains(c) ? '_' : c))));
            OutputFolder.Require(folder, "--out");
            await using var cluster = await connection.OpenAsync(parse, cancellationToken).ConfigureAwait(false);
            var status = await cluster.GetStatusAsync(jobId, cancellationToken).ConfigureAwait(false);
            if (status.Spec.Prediction is not null)
            {
                throw new UserInputException($"Job {jobId} is a prediction job: its outputs and manifest are under predictions/{jobId}/; 'unet report' reports training jobs.");
            }

            var history = await cluster.GetHistoryAsync(jobId, cancellationToken).ConfigureAwait(false);
            Directory.CreateDirectory(folder);
            var report = Path.Combine(folder, RunReport.FileName);
            await File.WriteAllTextAsync(Path.Combine(folder, HistoryCsv.FileName), HistoryCsv.Render(history), CancellationToken.None).ConfigureAwait(false);
            await File.WriteAllTextAsync(report, RunReport.Render(JobReports.Content(status, history)), CancellationToken.None).ConfigureAwait(false);
            await output.WriteLineAsync($"Report of job {jobId} ({status.State.ToString().ToLowerInvariant()}, step {status.Step}/{status.Steps}, {history.Steps.Count} points): {report}").ConfigureAwait(false);
            return Cli.Ok;
        }));
        return command;
    }
}
