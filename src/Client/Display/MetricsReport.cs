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

    private static string Row(string name, SegmentationScores s) => string.Create(
        CultureInfo.InvariantCulture, $"{name}  {s.PixelError,11:F4}  {s.ForegroundIoU,14:F4}  {s.Dice,6:F4}  {s.RandError,10:F4}");
}
