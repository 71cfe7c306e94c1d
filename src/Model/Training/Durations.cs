using System.Globalization;

namespace UNetCluster.Model.Training;

/// <summary>How a run's elapsed and remaining times are written for people: progress lines, job status, reports.</summary>
public static class Durations
{
    /// <summary>
    /// "mm:ss" under an hour, "h:mm:ss" from an hour on with the hours counted in full (a 55-hour run is "55:00:00",
    /// where a TimeSpan's "hh" would drop the days and "mm:ss" the hours); a negative span is written as zero.
    /// </summary>
    public static string Format(TimeSpan span)
    {
        var seconds = Math.Max(0, (long)span.TotalSeconds);
        var (hours, minutes, rest) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
        return hours == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{minutes:00}:{rest:00}")
            : string.Create(CultureInfo.InvariantCulture, $"{hours}:{minutes:00}:{rest:00}");
    }
}
