using UNetCluster.Data.Imaging;
using UNetCluster.Data.Tests.TestSupport;

namespace UNetCluster.Data.Tests.Imaging;

public sealed class PngWriterTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void WriteGray16_ThenRead_GivesTheSameValuesAndBitDepth()
    {
        var values = TestImages.Pattern(37, 23, 16);
        var path = _temp.File("labels.png");

        PngWriter.WriteGray16(path, values, 37, 23);
        var read = ImageReader.Read(path);

        Assert.Equal((37, 23, 16), (read.Width, read.Height, read.BitDepth));
        Assert.Equal(values, read.Values);
    }
}
