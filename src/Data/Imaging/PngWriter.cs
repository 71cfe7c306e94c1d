using System.Buffers.Binary;
using System.IO.Compression;
using StbImageWriteSharp;

namespace UNetCluster.Data.Imaging;

/// <summary>
/// Writes 8-bit PNGs (predicted masks, overlays) through StbImageWriteSharp, and 16-bit grayscale ones (instance
/// labels) itself, since that library writes 8-bit only. Creates the parent folder if needed and replaces an existing
/// file.
/// </summary>
public static class PngWriter
{
    /// <summary>Writes a single-channel 8-bit PNG; <paramref name="values"/> is row-major, <c>width * height</c> long.</summary>
    public static void WriteGray8(string path, byte[] values, int width, int height) =>
        Write(path, values, width, height, ColorComponents.Grey, channels: 1);

    /// <summary>Writes an 8-bit RGB PNG; <paramref name="rgb"/> is row-major and interleaved (r, g, b per pixel).</summary>
    public static void WriteRgb8(string path, byte[] rgb, int width, int height) =>
        Write(path, rgb, width, height, ColorComponents.RedGreenBlue, channels: 3);

    /// <summary>Writes a single-channel 16-bit PNG (big-endian samples, filter 0 on every row); <paramref name="values"/> is row-major.</summary>
    public static void WriteGray16(string path, ushort[] values, int width, int height)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(values);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        if (values.LongLength != (long)width * height)
        {
            throw new ArgumentException($"Expected {(long)width * height} values for a {width}x{height} image, got {values.Length}.", nameof(values));
        }

        var raw = new byte[checked(height * ((width * 2) + 1))];
        for (var y = 0; y < height; y++)
        {
            var row = raw.AsSpan((y * ((width * 2) + 1)) + 1, width * 2);   // the row's filter byte stays 0
            for (var x = 0; x < width; x++)
            {
                BinaryPrimitives.WriteUInt16BigEndian(row[(x * 2)..], values[(y * width) + x]);
            }
        }

        using var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            zlib.Write(raw);
        }

        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 16;   // bit depth; colour type 0 (gray), compression, filter and interlace 0
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }

        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None);
        stream.Write([137, 80, 78, 71, 13, 10, 26, 10]);
        WriteChunk(stream, "IHDR"u8, header);
        WriteChunk(stream, "IDAT"u8, compressed.ToArray());
        WriteChunk(stream, "IEND"u8, []);
    }

    private static void WriteChunk(Stream stream, ReadOnlySpan<byte> type, ReadOnlySpan<byte> data)
    {
        Span<byte> number = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(number, data.Length);
        stream.Write(number);
        stream.Write(type);
        stream.Write(data);
        BinaryPrimitives.WriteUInt32BigEndian(number, Checksums.Crc32(type, data));
        stream.Write(number);
    }

    private static void Write(string path, byte[] data, int width, int height, ColorComponents components, int channels)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        if (data.LongLength != (long)width * height * channels)
        {
            throw new ArgumentException(
                $"Expected {(long)width * height * channels} bytes for a {width}x{height} image with {channels} channel(s), got {data.Length}.",
                nameof(data));
        }

        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }

        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None);
        new ImageWriter().WritePng(data, width, height, components, stream);
    }
}
