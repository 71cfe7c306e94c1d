using UNetCluster.Model.Training;

namespace UNetCluster.Model.Tests.Training;

public sealed class DurationsTests
{
    [Theory]
    [InlineData(0, "00:00")]
    [InlineData(13, "00:13")]
    [InlineData((11 * 60) + 27, "11:27")]
    [InlineData((59 * 60) + 59.9, "59:59")]
    [InlineData(3600, "1:00:00")]
    [InlineData((3600 * 1) + (10 * 60) + 29, "1:10:29")]         // "mm:ss" wrote this 70-minute ETA as "10:29"
    [InlineData((3600 * 55) + 7, "55:00:07")]                      // "hh:mm:ss" wrote it as "07:00:07", the days dropped
    [InlineData(-5, "00:00")]
    public void Format_WritesMinutesAndSecondsUnderAnHourAndEveryHourFromOne(double seconds, string expected) =>
        Assert.Equal(expected, Durations.Format(TimeSpan.FromSeconds(seconds)));
}
