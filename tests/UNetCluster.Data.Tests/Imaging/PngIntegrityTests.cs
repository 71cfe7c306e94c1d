using UNetCluster.Data.DataSets;
using UNetCluster.Data.Imaging;
using UNetCluster.Data.Tests.TestSupport;

namespace UNetCluster.Data.Tests.Imaging;

/// <summary>A PNG whose bytes changed after it was written is refused, naming the file and the check that failed.</summary>
public sealed class PngIntegrityTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData("IHDR")]
    [InlineData("IDAT")]
    [InlineData("IEND")]
    public void Read_OneCrcByteFlipped_ThrowsNamingTheChunk(string chunk)
    {
        var path = _temp.File("slice.png");
        var bytes = File.ReadAllBytes(TestImages.BundledImage("slice-00"));
        var offset = PngBytes.FindChunk(bytes, chunk);
        bytes[offset + 8 + PngBytes.ChunkLength(bytes, offset) + 3] ^= 0x01;
        File.WriteAllBytes(path, bytes);
        var before = FolderSnapshot.Take(_temp.Path);

        var error = Assert.Throws<InvalidImageException>(() => ImageReader.Read(path));

        Assert.StartsWith($"{path}: is corrupt: chunk {chunk} at byte {offset} has a wrong CRC", error.Message, StringComparison.Ordinal);
        Assert.Contains(InvalidImageException.Accepted, error.Message, StringComparison.Ordinal);
        Assert.Equal(before, FolderSnapshot.Take(_temp.Path));
    }

    [Fact]
    public void Read_OneImageDataByteFlipped_ThrowsWrongCrc()
    {
        // Damage inside the compressed data, as a bad disk or a careless copy makes it, is caught by the chunk's CRC.
        var path = _temp.File("slice.png");
        var bytes = File.ReadAllBytes(TestImages.BundledImage("slice-00"));
        var offset = PngBytes.FindChunk(bytes, "IDAT");
        bytes[offset + 8 + (PngBytes.ChunkLength(bytes, offset) / 2)] ^= 0x10;
        File.WriteAllBytes(path, bytes);

        var error = Assert.Throws<InvalidImageException>(() => ImageReader.Read(path));

        Assert.Contains("slice.png: is corrupt: chunk IDAT at byte", error.Message, StringComparison.Ordinal);
        Assert.Contains("has a wrong CRC", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(8)]
    [InlineData(16)]
    public void Read_AdlerTrailerWrongButChunkCrcRight_ThrowsWrongZlibChecksum(int bitDepth)
    {
        var values = TestImages.Pattern(37, 23, bitDepth);
        var bytes = PngBytes.Gray(values, 37, 23, bitDepth);
        var good = _temp.File("good.png");
        File.WriteAllBytes(good, bytes);
        var offset = PngBytes.FindChunk(bytes, "IDAT");
        bytes[offset + 8 + PngBytes.ChunkLength(bytes, offset) - 1] ^= 0x01; // the last byte of the Adler-32
        PngBytes.FixCrc(bytes, offset);
        var path = _temp.File("adler.png");
        File.WriteAllBytes(path, bytes);

        var read = ImageReader.Read(good);
        var error = Assert.Throws<InvalidImageException>(() => ImageReader.Read(path));

        Assert.Equal(values, read.Values);
        Assert.StartsWith($"{path}: is corrupt: its image data has a wrong zlib checksum (Adler-32", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(13, 7, 8)]
    [InlineData(37, 23, 16)]
    [InlineData(1, 1, 8)]
    [InlineData(3, 2, 16)]
    [InlineData(9, 1, 8)]
    public void Read_InterlacedPng_ReturnsEveryValueExactly(int width, int height, int bitDepth)
    {
        // Adam7 splits the rows into seven passes, some empty for small images: the image data length check must
        // count them as the decoder does. (A distinct value per pixel, so that a pixel put in the wrong place shows.)
        var values = Enumerable.Range(0, width * height).Select(i => (ushort)(((i * 40503) + 7) % (1 << bitDepth))).ToArray();
        var path = _temp.File("interlaced.png");
        File.WriteAllBytes(path, PngBytes.Gray(values, width, height, bitDepth, interlaced: true));

        var image = ImageReader.Read(path);

        Assert.Equal((width, height, bitDepth), (image.Width, image.Height, image.BitDepth));
        Assert.Equal(values, image.Values);
    }

    [Fact]
    public void Read_ImageDataOneRowShort_ThrowsGivingBothLengths()
    {
        var path = _temp.File("short.png");
        var rows = PngBytes.Rows(TestImages.Pattern(8, 4, 8), 8, 4, 8);
        File.WriteAllBytes(path, PngBytes.File(
            PngBytes.Chunk("IHDR", PngBytes.Header(8, 4)),
            PngBytes.Chunk("IDAT", PngBytes.Zlib(rows[..^9])),
            PngBytes.Chunk("IEND", [])));

        var error = Assert.Throws<InvalidImageException>(() => ImageReader.Read(path));

        Assert.Contains("short.png: is truncated or corrupt: its image data decompresses to 27 bytes where a 8x4 image needs 36", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadImages_FolderWithOneCorruptPng_ListsItAndNotTheGoodOne()
    {
        var folder = _temp.Folder("predict");
        File.Copy(TestImages.BundledImage("slice-00"), Path.Combine(folder, "a.png"));
        var bytes = File.ReadAllBytes(TestImages.BundledImage("slice-01"));
        bytes[PngBytes.FindChunk(bytes, "IDAT") + 100] ^= 0xFF;
        File.WriteAllBytes(Path.Combine(folder, "b.png"), bytes);

        var error = Assert.Throws<DataSetValidationException>(() => DataSetLoader.LoadImages(folder));

        var problem = Assert.Single(error.Problems);
        Assert.StartsWith(Path.Combine(folder, "b.png") + ": is corrupt: chunk IDAT", problem, StringComparison.Ordinal);
    }
}
