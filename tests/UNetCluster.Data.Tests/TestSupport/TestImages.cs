using BitMiracle.LibTiff.Classic;
using StbImageWriteSharp;
using UNetCluster.Data.DataSets;

namespace UNetCluster.Data.Tests.TestSupport;

/// <summary>Makes the image files the tests read, with the libraries' own writers wherever one exists.</summary>
internal static class TestImages
{
    public static string BundledImage(string stem) => Path.Combine(BundledData.ImagesDirectory, stem + ".png");

    public static string BundledMask(string stem) => Path.Combine(BundledData.MasksDirectory, stem + ".png");

    /// <summary>Values that catch byte-order and scaling mistakes: both ends, both bytes set, each byte alone.</summary>
    public static ushort[] Pattern(int width, int height, int bitDepth, int seed = 1)
    {
        var max = (1 << bitDepth) - 1;
        var values = new ushort[width * height];
        var random = new Random(seed);
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = (ushort)random.Next(max + 1);
        }

        ushort[] special = bitDepth == 16 ? [0, 65535, 1, 256, 255, 0x1234, 0xFF00, 65534] : [0, 255, 1, 254, 128];
        special.CopyTo(values, 0);
        return values;
    }

    /// <summary>Writes a TIFF with one page per entry of <paramref name="pages"/>, through LibTiff.NET.</summary>
    public static void WriteTiff(
        string path, int width, int height, int bitDepth, IReadOnlyList<ushort[]> pages, bool tiled = false,
        int samplesPerPixel = 1, Photometric photometric = Photometric.MINISBLACK,
        Compression compression = Compression.LZW)
    {
        using var tiff = Tiff.Open(path, "w") ?? throw new IOException($"LibTiff could not create {path}");
        for (var page = 0; page < pages.Count; page++)
        {
            tiff.SetField(TiffTag.IMAGEWIDTH, width);
            tiff.SetField(TiffTag.IMAGELENGTH, height);
            tiff.SetField(TiffTag.BITSPERSAMPLE, bitDepth);
            tiff.SetField(TiffTag.SAMPLESPERPIXEL, samplesPerPixel);
            tiff.SetField(TiffTag.PHOTOMETRIC, photometric);
            tiff.SetField(TiffTag.PLANARCONFIG, PlanarConfig.CONTIG);
            tiff.SetField(TiffTag.COMPRESSION, compression);
            if (pages.Count > 1)
            {
                tiff.SetField(TiffTag.SUBFILETYPE, FileType.PAGE);
                tiff.SetField(TiffTag.PAGENUMBER, page, pages.Count);
            }

            var rowBytes = ((width * bitDepth * samplesPerPixel) + 7) / 8;
            var bytes = ToBytes(pages[page], bitDepth, rowBytes * height);
            if (tiled)
            {
                const int Tile = 16;
                tiff.SetField(TiffTag.TILEWIDTH, Tile);
                tiff.SetField(TiffTag.TILELENGTH, Tile);
                var bytesPerPixel = bitDepth * samplesPerPixel / 8;
                var tile = new byte[Tile * Tile * bytesPerPixel];
                for (var top = 0; top < height; top += Tile)
                {
                    for (var left = 0; left < width; left += Tile)
                    {
                        Array.Clear(tile);
                        for (var dy = 0; dy < Tile && top + dy < height; dy++)
                        {
                            var count = Math.Min(Tile, width - left) * bytesPerPixel;
                            Array.Copy(bytes, ((top + dy) * rowBytes) + (left * bytesPerPixel), tile, dy * Tile * bytesPerPixel, count);
                        }

                        tiff.WriteTile(tile, left, top, 0, 0);
                    }
                }
            }
            else
            {
                tiff.SetField(TiffTag.ROWSPERSTRIP, 8);
                var row = new byte[rowBytes];
                for (var y = 0; y < height; y++)
                {
                    Array.Copy(bytes, y * rowBytes, row, 0, rowBytes);
                    tiff.WriteScanline(row, y);
                }
            }

            tiff.WriteDirectory();
        }
    }

    /// <summary>
    /// Writes a 16-bit grayscale PNG. Neither StbImageWriteSharp nor BigGustave writes 16-bit PNGs, so this test
    /// input is put together from the format's parts by <see cref="PngBytes"/>: IHDR, the rows (filter byte 0,
    /// big-endian samples) deflated by .NET's ZLibStream into one IDAT, IEND. Only the tests write with it; the
    /// product reads through StbImageSharp.
    /// </summary>
    public static void WriteGray16Png(string path, ushort[] values, int width, int height) =>
        File.WriteAllBytes(path, PngBytes.Gray(values, width, height, bitDepth: 16));

    /// <summary>Writes an 8-bit PNG with 2 (gray + alpha) or 4 (RGBA) channels through StbImageWriteSharp.</summary>
    public static void WritePng(string path, byte[] data, int width, int height, ColorComponents components)
    {
        using var file = File.Create(path);
        new ImageWriter().WritePng(data, width, height, components, file);
    }

    /// <summary>Copies <paramref name="source"/> to <paramref name="target"/> keeping only the first half of its bytes.</summary>
    public static void CopyTruncated(string source, string target)
    {
        var bytes = File.ReadAllBytes(source);
        File.WriteAllBytes(target, bytes[..(bytes.Length / 2)]);
    }

    private static byte[] ToBytes(ushort[] values, int bitDepth, int byteCount)
    {
        var bytes = new byte[byteCount];
        if (bitDepth == 16)
        {
            Buffer.BlockCopy(values, 0, bytes, 0, byteCount); // LibTiff takes samples in machine byte order
        }
        else if (bitDepth == 8)
        {
            for (var i = 0; i < byteCount; i++)
            {
                bytes[i] = (byte)values[i];
            }
        }

        // Other depths (1-bit, 32-bit) are only written to be refused, so their content stays zero.
        return bytes;
    }
}
