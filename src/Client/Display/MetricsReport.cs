using System.Globalization;
using UNetCluster.Model.Metrics;

namespace UNetCluster.Client.Display;

/// <summary>Prints segmentation scores as a table (one row per image, then the mean).</summary>
internal static class MetricsReport
{
    public static void Print(TextWriter output, IReadOnlyList<(string Id, SegmentationScores Scores)> rows, SegmentationScores mean)
    {
        var width = Math.Max(8, rows.Count == 0 ? 0 : rows.Max(r => r.Id.Length));
        output.WriteLine($"{"image".PadRight(width)}  pixel error  foreground IoU    Dice  Rand error");
        foreach (var (id, s) in rows)
        {
            output.WriteLine(Row(id.PadRight(width), s));
        }

        output.WriteLine(Row("mean".PadRight(width), mean));
    }

    /// <summary>
    /// Per-class Dice and IoU: one row per image (the means over its foreground classes), then one row per class
    /// averaged over the images, then the mean over the foreground classes; "-" where a class is in neither map.
    /// </summary>
    public static void PrintClasses(TextWriter output, IReadOnlyList<(string Id, ClassScores Scores)> rows)
    {
        if (ClassMetrics.Mean(rows.Select(r => r.Scores)) is not { } mean)
        {
            return;
        }

        output.WriteLine();
        output.WriteLine("Classes (Dice and IoU per class; means over the foreground classes 1..C-1):");
        var width = Math.Max(12, rows.Max(r => r.Id.Length));
        foreach (var (id, s) in rows)
        {
            output.WriteLine($"  {id.PadRight(width)}  mean Dice {Figure(s.MeanDice)}  mean IoU {Figure(s.MeanIoU)}");
        }

        foreach (var c in mean.Classes)
        {
            var label = c.Name is null ? $"class {c.Class}" : $"class {c.Class} {c.Name}";
            output.WriteLine($"  {label.PadRight(width)}  Dice {Figure(c.Dice)}  IoU {Figure(c.IoU)}  ({c.TruthPixels} true, {c.PredictedPixels} predicted pixels)");
        }

        output.WriteLine($"  {"mean".PadRight(width)}  Dice {Figure(mean.MeanDice)}  IoU {Figure(mean.MeanIoU)}");
    }

    private static string Figure(double? value) => value is { } v ? v.ToString("F4", CultureInfo.InvariantCulture) : "     -";

    private static string Row(string name, SegmentationScores s) => string.Create(
        CultureInfo.InvariantCulture, $"{name}  {s.PixelError,11:F4}  {s.ForegroundIoU,14:F4}  {s.Dice,6:F4}  {s.RandError,10:F4}");
}
