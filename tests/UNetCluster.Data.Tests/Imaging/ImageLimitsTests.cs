using UNetCluster.Data.DataSets;
using UNetCluster.Data.Imaging;
using UNetCluster.Data.Tests.TestSupport;

namespace UNetCluster.Data.Tests.Imaging;

public sealed class ImageLimitsTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Read_TinyPngDeclaring20000x20000_RefusesFromTheHeaderWithoutAllocatingThePixels()
    {
        // 70-odd bytes: a valid IHDR (right CRC) declaring 400 million 8-bit pixels, and one row of image data.
        var path = _temp.File("bomb.png");
        File.WriteAllBytes(path, PngBytes.File(
            PngBytes.Chunk("IHDR", PngBytes.Header(20000, 20000)),
            PngBytes.Chunk("IDAT", PngBytes.Zlib(new byte[20001])),
            PngBytes.Chunk("IEND", [])));
        var before = FolderSnapshot.Take(_temp.Path);
        var allocated = GC.GetAllocatedBytesForCurrentThread();

        var error = Assert.Throws<InvalidImageException>(() => ImageReader.Read(path));

        Assert.True(GC.GetAllocatedBytesForCurrentThread() - allocated < 4_000_000, "the reader allocated as if decoding");
        Assert.Equal(path, error.Path);
        Assert.StartsWith(path + ": is too large: its image is 20000x20000 = 400,000,000 pixels", error.Message, StringComparison.Ordinal);
        Assert.Contains("over the limit of 268,435,456 pixels per image (ImageLimits.MaxPixelsPerImage)", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, FolderSnapshot.Take(_temp.Path));
    }

    [Fact]
    public void Read_PngDeclaring16000x16000SixteenBit_IsNotRefusedForItsSize()
    {
        // A 16-bit 16000x16000 slide scan is within the default limit: this one is refused only because its image data
        // is one row long, which shows that the reader went past the size check.
        var path = _temp.File("slide.png");
        File.WriteAllBytes(path, PngBytes.File(
            PngBytes.Chunk("IHDR", PngBytes.Header(16000, 16000, bitDepth: 16)),
            PngBytes.Chunk("IDAT", PngBytes.Zlib(new byte[32001])),
            PngBytes.Chunk("IEND", [])));

        var error = Assert.Throws<InvalidImageException>(() => ImageReader.Read(path));

        Assert.DoesNotContain("too large", error.Message, StringComparison.Ordinal);
        Assert.Contains("decompresses to 32001 bytes where a 16000x16000 image needs 512016000", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_PngOneMorePixelThanALoweredLimit_IsRefusedAndAtTheLimitIsRead()
    {
        var path = _temp.File("gray.png");
        PngWriter.WriteGray8(path, new byte[31 * 17], 31, 17);

        var image = ImageReader.Read(path, new ImageLimits(MaxPixelsPerImage: 31 * 17));
        var error = Assert.Throws<InvalidImageException>(() => ImageReader.Read(path, new ImageLimits(MaxPixelsPerImage: (31 * 17) - 1)));

        Assert.Equal((31, 17), (image.Width, image.Height));
        Assert.Contains("gray.png: is too large: its image is 31x17 = 527 pixels, over the limit of 526 pixels per image", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_TiffOverALoweredLimit_IsRefusedNamingItsSize()
    {
        var path = _temp.File("section.tif");
        TestImages.WriteTiff(path, 40, 24, 16, [TestImages.Pattern(40, 24, 16)], tiled: true);

        var error = Assert.Throws<InvalidImageException>(() => ImageReader.Read(path, new ImageLimits(MaxPixelsPerImage: 900)));

        Assert.Contains("section.tif: is too large: its image is 40x24 = 960 pixels, over the limit of 900 pixels per image", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadPages_StackOverTheFileLimit_IsRefusedNamingItsPagesAndAtTheLimitIsRead()
    {
        var path = _temp.File("stack.tif");
        TestImages.WriteTiff(path, 10, 6, 8, [.. Enumerable.Range(0, 3).Select(p => TestImages.Pattern(10, 6, 8, p))]);

        var pages = ImageReader.ReadPages(path, new ImageLimits(MaxPixelsPerFile: 180));
        var error = Assert.Throws<InvalidImageException>(() => ImageReader.ReadPages(path, new ImageLimits(MaxPixelsPerFile: 179)));

        Assert.Equal(3, pages.Count);
        Assert.Contains("stack.tif: is too large: its 3 pages hold 180 pixels together, over the limit of 179 pixels per file (ImageLimits.MaxPixelsPerFile)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_PngOverALoweredFileLimit_IsRefusedNamingThatLimit()
    {
        var path = _temp.File("gray.png");
        PngWriter.WriteGray8(path, new byte[8 * 8], 8, 8);

        var error = Assert.Throws<InvalidImageException>(() => ImageReader.Read(path, new ImageLimits(MaxPixelsPerFile: 63)));

        Assert.Contains("gray.png: is too large: its one page holds 64 pixels together, over the limit of 63 pixels per file (ImageLimits.MaxPixelsPerFile)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadPages_StackPageOverTheImageLimit_IsRefusedNamingThePage()
    {
        var path = _temp.File("stack.tif");
        TestImages.WriteTiff(path, 10, 6, 8, [new ushort[60], new ushort[60]]);

        var error = Assert.Throws<InvalidImageException>(() => ImageReader.ReadPages(path, new ImageLimits(MaxPixelsPerImage: 59)));

        Assert.Contains("stack.tif: is too large: page 0 is 10x6 = 60 pixels", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadImages_FolderWithAnImageOverTheLimit_ListsItAmongTheProblems()
    {
        var folder = _temp.Folder("predict");
        PngWriter.WriteGray8(Path.Combine(folder, "small.png"), new byte[16], 4, 4);
        PngWriter.WriteGray8(Path.Combine(folder, "large.png"), new byte[64], 8, 8);

        var error = Assert.Throws<DataSetValidationException>(() => DataSetLoader.LoadImages(folder, new ImageLimits(MaxPixelsPerImage: 16)));

        var problem = Assert.Single(error.Problems);
        Assert.Contains("large.png: is too large: its image is 8x8 = 64 pixels, over the limit of 16", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadLabelled_ImageOverTheLimit_IsRefusedNamingIt()
    {
        var (images, masks) = (_temp.Folder("images"), _temp.Folder("masks"));
        PngWriter.WriteGray8(Path.Combine(images, "a.png"), new byte[64], 8, 8);
        PngWriter.WriteGray8(Path.Combine(masks, "a.png"), [.. Enumerable.Range(0, 64).Select(i => (byte)(i % 2 * 255))], 8, 8);

        var error = Assert.Throws<DataSetValidationException>(() => DataSetLoader.LoadLabelled(images, masks, new ImageLimits(MaxPixelsPerImage: 63)));

        Assert.Equal(2, error.Problems.Count);
        Assert.All(error.Problems, p => Assert.Contains("a.png: is too large: its image is 8x8", p, StringComparison.Ordinal));
    }

    [Fact]
    public void Constructor_LimitBelowOnePixel_ThrowsNamingTheLimit()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new ImageLimits(MaxPixelsPerImage: 0));

        Assert.Equal("MaxPixelsPerImage", error.ParamName);
    }
}
