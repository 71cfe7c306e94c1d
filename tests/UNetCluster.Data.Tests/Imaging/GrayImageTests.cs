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
}
