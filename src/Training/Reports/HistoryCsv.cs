using System.Globalization;
using System.Text;
using UNetCluster.Contracts.Jobs;

namespace UNetCluster.Training.Reports;

/// <summary>
/// A run's <c>history.csv</c>, beside its report: one row per recorded step (loss, smoothed loss, tiles/s, step seconds)
/// with the validation's scores on the rows of the steps that were validated (a validation at a step the history thinned
/// out gets a row of its own). Invariant culture, ISO 8601 UTC times.
/// </summary>
public static class HistoryCsv
{
    public const string FileName = "history.csv";

    public const string Header = "step,time_utc,loss,smoothed_loss,tiles_per_second,step_seconds,validation_metric,validation_value,threshold,pixel_error,rand_error,dice,iou,object_f1";

    public static string Render(JobHistory history)
    {
        ArgumentNullException.ThrowIfNull(history);
        var validations = history.Validations.GroupBy(v => v.Step).ToDictionary(g => g.Key, g => g.Last());
        var steps = history.Steps.ToDictionary(p => p.Step);
        var csv = new StringBuilder(Header).Append('\n');
        foreach (var step in steps.Keys.Union(validations.Keys).Order())
        {
            var p = steps.GetValueOrDefault(step);
            var v = validations.GetValueOrDefault(step);
            csv.Append(string.Join(',',
                step.ToString(CultureInfo.InvariantCulture),
                (p?.At ?? v?.At)?.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture) ?? string.Empty,
                N(p?.Loss), N(p?.SmoothedLoss), N(p?.TilesPerSecond), N(p?.StepSeconds),
                v?.Metric ?? string.Empty, N(v?.Value), N(v?.Threshold), N(v?.PixelError), N(v?.RandError), N(v?.Dice), N(v?.IoU), N(v?.ObjectF1)));
            csv.Append('\n');
        }

        return csv.ToString();
    }

    private static string N(double? value) => value is { } v ? v.ToString("R", CultureInfo.InvariantCulture) : string.Empty;
}
