using StbImageSharp;
using UNetCluster.Data.Imaging;
using UNetCluster.Data.Tests.TestSupport;

namespace UNetCluster.Data.Tests.Imaging;

public sealed class PngWriterTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void WriteRgb8_Overlay_IsAPngWithTheSameColours()
    {
        var rgb = new byte[5 * 3 * 3];
        for (var i = 0; i < rgb.Length; i++)
        {
            rgb[i] = (byte)(i * 37);
        }

        var path = Path.Combine(_temp.Path, "out", "overlay.png"); // the writer creates "out"
        PngWriter.WriteRgb8(path, rgb, 5, 3);

        var decoded = ImageResult.FromMemory(File.ReadAllBytes(path), ColorComponents.Default);
        Assert.Equal((5, 3, ColorComponents.RedGreenBlue), (decoded.Width, decoded.Height, decoded.SourceComp));
        Assert.Equal(rgb, decoded.Data);
    }

    [Fact]
    public void WriteRgb8_ThenImageReaderRead_IsRefusedAsColour()
    {
        var path = _temp.File("overlay.png");
        PngWriter.WriteRgb8(path, new byte[2 * 2 * 3], 2, 2);

        var error = Assert.Throws<InvalidImageException>(() => ImageReader.Read(path));

        Assert.Contains("3 channels (RGB colour)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WriteGray8_ExistingFile_IsReplaced()
    {
        var path = _temp.File("mask.png");
        PngWriter.WriteGray8(path, [0, 0, 0, 0], 2, 2);

        PngWriter.WriteGray8(path, [255, 0, 0, 255], 2, 2);

        Assert.Equal([255, 0, 0, 255], ImageReader.Read(path).Values.Select(v => (byte)v));
    }

    [Fact]
    public void WriteGray8_TooFewBytes_ThrowsSayingHowManyWereExpected()
    {
        var error = Assert.Throws<ArgumentException>(() => PngWriter.WriteGray8(_temp.File("x.png"), new byte[5], 3, 2));

        Assert.Contains("Expected 6 bytes for a 3x2 image", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(_temp.File("x.png")));
    }
}
