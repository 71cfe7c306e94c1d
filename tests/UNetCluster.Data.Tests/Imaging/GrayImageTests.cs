using UNetCluster.Data.Imaging;

namespace UNetCluster.Data.Tests.Imaging;

public sealed class GrayImageTests
{
    [Theory]
    [InlineData(8, 255)]
    [InlineData(16, 65535)]
    public void ToUnitRange_FullScaleValues_MapsZeroToZeroAndMaxToOne(int bitDepth, int max)
    {
        var image = new GrayImage(3, 1, [0, (ushort)(max / 2), (ushort)max], bitDepth, "test");

        var unit = image.ToUnitRange();

        Assert.Equal(0f, unit[0]);
        Assert.Equal(0.5f, unit[1], 0.01f); // 127/255 and 32767/65535 are just under a half
        Assert.Equal(1f, unit[2]);
    }

    [Fact]
    public void Normalised_EightAndSixteenBitOfSameScene_GiveSameZeroMeanUnitStdInput()
    {
        var eight = new GrayImage(2, 2, [0, 51, 102, 255], 8, "8-bit");
        var sixteen = new GrayImage(2, 2, [0, 51 * 257, 102 * 257, 65535], 16, "16-bit");

        var a = eight.Normalised();
        var b = sixteen.Normalised();

        Assert.Equal(0.0, a.Average(), 5);
        Assert.Equal(1.0, Math.Sqrt(a.Average(v => v * v)), 4);
        for (var i = 0; i < a.Length; i++)
        {
            Assert.Equal(a[i], b[i], 4);
        }
    }

    [Fact]
    public void Normalised_FlatImage_ReturnsZerosNotNaN()
    {
        var flat = new GrayImage(4, 4, Enumerable.Repeat((ushort)77, 16).ToArray(), 8, "flat");

        Assert.All(flat.Normalised(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Constructor_ValueCountNotWidthTimesHeight_Throws()
    {
        var error = Assert.Throws<ArgumentException>(() => new GrayImage(3, 3, new ushort[8], 8, "bad"));

        Assert.Contains("Expected 9 values for a 3x3 image, got 8", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_BitDepth12_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new GrayImage(1, 1, [0], 12, "bad"));
    }

    [Fact]
    public void Normalised_Percentile_MapsLowAndHighPercentilesOfEachChannelToZeroAndOneWithoutClipping()
    {
        // 1000 values 0..999 in channel 0 and 1000..1999 x 10 in channel 1: the 1st percentile is 9.99 (x 10, + 10000),
        // the 99.8th 997.002; values beyond them fall outside [0, 1], as they are not clipped.
        var values = Enumerable.Range(0, 1000).Select(v => (ushort)v).Concat(Enumerable.Range(1000, 1000).Select(v => (ushort)(v * 10))).ToArray();
        var image = new GrayImage(1000, 1, values, 16, "ramp", Channels: 2);

        var normalised = image.Normalised(IntensityNormalisation.Percentile);

        var (low, high) = (9.99, 997.002);
        Assert.Equal((float)((0 - low) / (high - low)), normalised[0], 5);
        Assert.Equal((float)((500 - low) / (high - low)), normalised[500], 5);
        Assert.True(normalised[999] > 1f);
        Assert.Equal(normalised[500], normalised[1500], 4);   // channel 1 is channel 0 scaled and shifted
    }

    [Fact]
    public void Normalised_PercentileOfAFlatImage_ReturnsZerosNotNaN()
    {
        var flat = new GrayImage(4, 4, Enumerable.Repeat((ushort)77, 16).ToArray(), 8, "flat");

        Assert.All(flat.Normalised(IntensityNormalisation.Percentile), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Normalised_PercentileOfMostlyOneValue_FallsBackToMinimumAndMaximum()
    {
        // 999 zeros and one 500: both percentiles are 0, so the range 0..500 scales instead of a division by zero.
        var values = new ushort[1000];
        values[3] = 500;
        var image = new GrayImage(1000, 1, values, 16, "sparse");

        var normalised = image.Normalised(IntensityNormalisation.Percentile);

        Assert.Equal(1f, normalised[3]);
        Assert.Equal(0f, normalised[0]);
    }
}
