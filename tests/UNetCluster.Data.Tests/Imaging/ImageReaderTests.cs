using BitMiracle.LibTiff.Classic;
using StbImageWriteSharp;
using UNetCluster.Data.Imaging;
using UNetCluster.Data.Tests.TestSupport;

namespace UNetCluster.Data.Tests.Imaging;

public sealed class ImageReaderTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Read_BundledIsbiSection_Returns512x512EightBitGrayWithRealContrast()
    {
        var image = ImageReader.Read(TestImages.BundledImage("slice-00"));

        Assert.Equal((512, 512, 8, 0), (image.Width, image.Height, image.BitDepth, image.Page));
        Assert.Equal(512 * 512, image.Values.Length);
        Assert.EndsWith("slice-00.png", image.Source, StringComparison.Ordinal);
        // An EM section has dark membranes and bright cytoplasm: a decoder that dropped rows or bytes would not.
        Assert.True(image.Values.Max() - image.Values.Min() > 150);
    }

    [Fact]
    public void Read_SixteenBitPng_ReturnsEveryValueExactly()
    {
        var values = TestImages.Pattern(37, 23, 16);
        var path = _temp.File("deep.png");
        TestImages.WriteGray16Png(path, values, 37, 23);

        var image = ImageReader.Read(path);

        Assert.Equal((37, 23, 16), (image.Width, image.Height, image.BitDepth));
        Assert.Equal(values, image.Values);
    }

    [Fact]
    public void Read_EightBitPngFromPngWriter_ReturnsEveryValueExactly()
    {
        var values = TestImages.Pattern(31, 17, 8);
        var path = _temp.File("gray.png");
        PngWriter.WriteGray8(path, values.Select(v => (byte)v).ToArray(), 31, 17);

        var image = ImageReader.Read(path);

        Assert.Equal((31, 17, 8), (image.Width, image.Height, image.BitDepth));
        Assert.Equal(values, image.Values);
    }

    [Theory]
    [InlineData(8, false)]
    [InlineData(16, false)]
    [InlineData(8, true)]
    [InlineData(16, true)]
    public void Read_TiffStripsOrTiles_ReturnsEveryValueExactly(int bitDepth, bool tiled)
    {
        // 40x24 is not a multiple of the 16-pixel tiles, so edge tiles are cut.
        var values = TestImages.Pattern(40, 24, bitDepth);
        var path = _temp.File($"section-{bitDepth}.tif");
        TestImages.WriteTiff(path, 40, 24, bitDepth, [values], tiled);

        var image = ImageReader.Read(path);

        Assert.Equal((40, 24, bitDepth), (image.Width, image.Height, image.BitDepth));
        Assert.Equal(values, image.Values);
    }

    [Fact]
    public void Read_MinIsWhiteTiff_ReturnsValuesWithWhiteHighest()
    {
        var stored = TestImages.Pattern(8, 8, 8);
        var path = _temp.File("inverted.TIFF");
        TestImages.WriteTiff(path, 8, 8, 8, [stored], photometric: Photometric.MINISWHITE);

        var image = ImageReader.Read(path);

        Assert.Equal(stored.Select(v => (ushort)(255 - v)), image.Values);
    }

    [Fact]
    public void ReadPages_ThreePageSixteenBitStack_ReturnsEachPageInOrder()
    {
        var pages = Enumerable.Range(0, 3).Select(p => TestImages.Pattern(20, 12, 16, seed: p)).ToList();
        var path = _temp.File("stack.tif");
        TestImages.WriteTiff(path, 20, 12, 16, pages);

        var read = ImageReader.ReadPages(path);

        Assert.Equal(3, read.Count);
        for (var p = 0; p < 3; p++)
        {
            Assert.Equal(p, read[p].Page);
            Assert.Equal(pages[p], read[p].Values);
        }
    }

    [Fact]
    public void ReadPages_Png_ReturnsItsOnePage()
    {
        var pages = ImageReader.ReadPages(TestImages.BundledMask("slice-01"));

        Assert.Single(pages);
        Assert.Equal(512, pages[0].Width);
    }

    [Fact]
    public void Read_MultiPageTiff_ThrowsSayingToUseReadPages()
    {
        var path = _temp.File("stack.tif");
        TestImages.WriteTiff(path, 4, 4, 8, [new ushort[16], new ushort[16]]);

        var error = Assert.Throws<InvalidImageException>(() => ImageReader.Read(path));

        Assert.Contains("stack.tif", error.Message, StringComparison.Ordinal);
        Assert.Contains("2 pages", error.Message, StringComparison.Ordinal);
        Assert.Contains("ReadPages", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_PngCutInHalf_ThrowsNamingFileAndLeavesFolderUnchanged()
    {
        var path = _temp.File("slice-00.png");
        TestImages.CopyTruncated(TestImages.BundledImage("slice-00"), path);
        var before = FolderSnapshot.Take(_temp.Path);

        var error = Assert.Throws<InvalidImageException>(() => ImageReader.Read(path));

        Assert.Equal(path, error.Path);
        Assert.Contains("slice-00.png", error.Message, StringComparison.Ordinal);
        Assert.Contains("truncated or corrupt", error.Message, StringComparison.Ordinal);
        Assert.Contains(InvalidImageException.Accepted, error.Message, StringComparison.Ordinal);
        Assert.Equal(before, FolderSnapshot.Take(_temp.Path));
    }

    [Fact]
    public void Read_TiffCutInHalf_ThrowsNamingFileAndLeavesFolderUnchanged()
    {
        var whole = _temp.File("whole.tif");
        TestImages.WriteTiff(whole, 64, 64, 16, [TestImages.Pattern(64, 64, 16)], compression: Compression.NONE);
        var path = _temp.File("cut.tif");
        TestImages.CopyTruncated(whole, path);
        var before = FolderSnapshot.Take(_temp.Path);

        var error = Assert.Throws<InvalidImageException>(() => ImageReader.Read(path));

        Assert.Contains("cut.tif", error.Message, StringComparison.Ordinal);
        Assert.Contains("truncated or corrupt", error.Message, StringComparison.Ordinal);
        Assert.Contains(InvalidImageException.Accepted, error.Message, StringComparison.Ordinal);
        Assert.Equal(before, FolderSnapshot.Take(_temp.Path));
    }

    [Fact]
    public void Read_CmykTiff_ThrowsUnsupportedChannels()
    {
        var path = _temp.File("cmyk.tif");
        TestImages.WriteTiff(path, 4, 4, 8, [new ushort[64]], samplesPerPixel: 4, photometric: Photometric.SEPARATED);

        var error = Assert.Throws<InvalidImageException>(() => ImageReader.Read(path));

        Assert.Contains("cmyk.tif: has unsupported channels: its image has 4 sample(s) per pixel with photometric interpretation SEPARATED", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(32)]
    public void Read_TiffWithOtherBitDepth_ThrowsUnsupportedBitDepth(int bitDepth)
    {
        var path = _temp.File("odd-depth.tif");
        TestImages.WriteTiff(path, 16, 4, bitDepth, [new ushort[64]], compression: Compression.NONE);

        var error = Assert.Throws<InvalidImageException>(() => ImageReader.Read(path));

        Assert.Contains("odd-depth.tif", error.Message, StringComparison.Ordinal);
        Assert.Contains($"unsupported bit depth: its image has {bitDepth}-bit", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_TextFileNamedPng_ThrowsNotPngOrTiff()
    {
        var path = _temp.File("notes.png");
        File.WriteAllText(path, "not an image");

        var error = Assert.Throws<InvalidImageException>(() => ImageReader.Read(path));

        Assert.Contains("notes.png: is not a PNG or TIFF file", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("section.jpg", "has the unsupported extension '.jpg'")]
    [InlineData("missing.png", "does not exist")]
    public void Read_WrongExtensionOrMissingFile_ThrowsNamingFile(string name, string expected)
    {
        var path = _temp.File(name);
        if (name.EndsWith(".jpg", StringComparison.Ordinal))
        {
            File.Copy(TestImages.BundledImage("slice-00"), path);
        }

        var error = Assert.Throws<InvalidImageException>(() => ImageReader.Read(path));

        Assert.Contains($"{name}: {expected}", error.Message, StringComparison.Ordinal);
        Assert.Contains(".png, .tif, .tiff", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SupportedExtensions_AnyCase_ContainsPngAndTiff()
    {
        Assert.True(ImageReader.SupportedExtensions.SetEquals([".png", ".tif", ".tiff"]));
        Assert.Contains(".PNG", ImageReader.SupportedExtensions);
        Assert.Contains(".Tif", ImageReader.SupportedExtensions);
    }
}
