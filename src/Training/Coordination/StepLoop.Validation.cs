using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using UNetCluster.Contracts.Messages;
using UNetCluster.Model.Metrics;

namespace UNetCluster.Training.Coordination;

/// <summary>
/// The step loop's validations: at a committed step, when due, the workers of that step predict and score their share
/// of the held-out sections with the parameters of that step; the coordinator picks the decision threshold best for
/// the job's metric over all sections, keeps the best validation in the job's status (so a coordinator that takes the
/// job over goes on comparing against it), marks that step's checkpoint as the job's best, and stops the job early
/// after the patience runs out. Training waits while the workers validate; that time is not training time (the budget
/// and the schedule leave it out).
/// </summary>
public sealed partial class StepLoop
{
    private static readonly TimeSpan ValidationTimeout = TimeSpan.FromMinutes(15);
    private readonly Stopwatch _sinceValidation = Stopwatch.StartNew();
    private long _validatedStep = -1;
    private (long Step, BestMark Mark)? _marked;                         // the step whose checkpoint is to be the best
    private string? _earlyStop;                                          // why the job stops early, once it must

    /// <summary>Whether the committed step <see cref="_version"/> is validated: every N steps, after M minutes, and at the last step.</summary>
    private bool ValidationDue(bool last)
    {
        if (_version == _validatedStep)
        {
            return false;
        }

        var validation = _options.Validation;
        return last
            || _version % validation.StepsBetween(_options.CheckpointEvery) == 0
            || (validation.Minutes is { } minutes && _sinceValidation.Elapsed >= TimeSpan.FromMinutes(minutes));
    }

    /// <summary>
    /// Validates the committed step on <paramref name="workers"/> (they hold its parameters). Returns the mark for the
    /// step's checkpoint when this validation is the job's best so far. A validation that fails (a worker lost, say) is
    /// reported in the status and skipped: training goes on. One that cannot ever work (the metric does not fit the data)
    /// fails the job.
    /// </summary>
    private async Task<BestMark?> ValidateAsync(List<string> workers)
    {
        _validatedStep = _version;
        _sinceValidation.Restart();
        var clock = Stopwatch.StartNew();
        using var abandon = new CancellationTokenSource();
        ValidationReport[] reports;
        try
        {
            reports = await Task.WhenAll(workers.Select((w, i) =>
                    _cluster.ValidateAsync(w, new ValidationPlan(_jobId, _spec, _version, i, workers.Count, _reducers, _bucketBytes), abandon.Token)))
                .WaitAsync(ValidationTimeout);
        }
        catch (Exception e) when (IsCallFailure(e))
        {
            LogValidationFailed(_jobId, _version, e);
            Status = Status with { ValidationError = $"the validation of step {_version} failed: {e.Message}" };
            return null;
        }
        finally
        {
            await abandon.CancelAsync();
            _validating += clock.Elapsed;
        }
        var sections = reports.SelectMany(r => r.Sections).ToList();
        var metric = _options.Validation.MetricFor(instances: sections.Count > 0 && sections.All(s => s.ObjectF1 is not null));
        var result = ValidationChoice.Choose(sections, metric, _version, clock.Elapsed.TotalSeconds);
        // The highest value so far, and the best checkpoint: the latest validation within one standard error of it.
        var highest = Status.HighestValidation ?? Status.BestValidation;
        var raised = highest is null || highest.Metric != result.Metric || metric.IsBetter(result.Value, highest.Value);
        double? margin = raised ? null : ValidationChoice.DifferenceError(result, highest!);
        var improved = raised || Math.Abs(result.Value - highest!.Value) <= margin;
        result = result with { Improved = improved, SelectionMargin = margin };
        Status = Status with
        {
            Validation = result,
            BestValidation = improved ? result : Status.BestValidation,
            HighestValidation = raised ? result : highest,
            ValidationsWithoutImprovement = raised ? 0 : Status.ValidationsWithoutImprovement + 1,
            ValidationError = null,
        };
        _cluster.Validated(Status, result);
        LogValidated(_jobId, _version, result.Metric, result.Value, result.Threshold, improved, result.Seconds);
        if (!raised && _options.Validation.Patience is { } patience && Status.ValidationsWithoutImprovement >= patience)
        {
            _earlyStop = string.Create(CultureInfo.InvariantCulture,
                $"early stopping: no better {metric.Name()} in {patience} validation{(patience == 1 ? "" : "s")} (best {highest!.Value:0.####} at step {highest.Step})");
        }

        if (!improved)
        {
            return null;
        }

        var mark = new BestMark(result.Metric, result.Value, result.Threshold, result.MinObjectPixels);
        _marked = (_version, mark);
        return mark;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: step {Step} validated: {Metric} {Value:0.####} at threshold {Threshold:0.00} (best so far: {Improved}) in {Seconds:0.0} s")]
    private partial void LogValidated(string jobId, long step, string metric, double value, double threshold, bool improved, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: the validation of step {Step} failed; training goes on")]
    private partial void LogValidationFailed(string jobId, long step, Exception exception);
}
