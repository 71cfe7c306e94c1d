using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace UNetCluster.Data.Tests.TestSupport;

/// <summary>
/// Puts PNG files together byte by byte, for inputs no library writes: 16-bit gray, Adam7 interlacing, and files
/// damaged in one precise place. Each chunk gets its CRC-32 computed here, bit by bit (an implementation independent
/// of the reader's table), so a test damages exactly what it means to.
/// </summary>
internal static class PngBytes
{
    private static readonly byte[] Signature = [137, 80, 78, 71, 13, 10, 26, 10];

    // Adam7: each pass's first column and row and its steps, as (x0, y0, dx, dy) (PNG specification, 8.2).
    private static readonly (int X0, int Y0, int Dx, int Dy)[] Adam7 =
        [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)];

    /// <summary>The 13 bytes of an IHDR chunk's data.</summary>
    public static byte[] Header(int width, int height, int bitDepth = 8, int colorType = 0, int interlace = 0)
    {
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = (byte)bitDepth;
        header[9] = (byte)colorType;
        header[12] = (byte)interlace;
        return header;
    }

    /// <summary>One chunk: length, type, data, and the CRC-32 of type and data.</summary>
    public static byte[] Chunk(string type, byte[] data)
    {
        var chunk = new byte[12 + data.Length];
        BinaryPrimitives.WriteInt32BigEndian(chunk, data.Length);
        Encoding.ASCII.GetBytes(type).CopyTo(chunk, 4);
        data.CopyTo(chunk, 8);
        BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(8 + data.Length), Crc32(chunk.AsSpan(4, 4 + data.Length)));
        return chunk;
    }

    /// <summary>The signature followed by <paramref name="chunks"/>, as they are (no IEND is added).</summary>
    public static byte[] File(params byte[][] chunks) => [.. Signature, .. chunks.SelectMany(c => c)];

    /// <summary><paramref name="raw"/> deflated into a zlib stream (header, deflate data, Adler-32), as IDAT holds.</summary>
    public static byte[] Zlib(byte[] raw)
    {
        using var deflated = new MemoryStream();
        using (var zlib = new ZLibStream(deflated, CompressionLevel.Optimal, leaveOpen: true))
        {
            zlib.Write(raw);
        }

        return deflated.ToArray();
    }

    /// <summary>
    /// The filtered rows of a grayscale image (filter type 0 on every row, big-endian 16-bit samples), per Adam7 pass
    /// when <paramref name="interlaced"/>: what the IDAT stream decompresses to.
    /// </summary>
    public static byte[] Rows(ushort[] values, int width, int height, int bitDepth, bool interlaced = false)
    {
        var bytesPerSample = bitDepth / 8;
        using var rows = new MemoryStream();
        foreach (var (x0, y0, dx, dy) in interlaced ? Adam7 : [(0, 0, 1, 1)])
        {
            if (x0 >= width || y0 >= height)
            {
                continue; // an empty pass has no rows, not even filter bytes
            }

            for (var y = y0; y < height; y += dy)
            {
                rows.WriteByte(0);
                for (var x = x0; x < width; x += dx)
                {
                    var value = values[(y * width) + x];
                    if (bytesPerSample == 2)
                    {
                        rows.WriteByte((byte)(value >> 8));
                    }

                    rows.WriteByte((byte)value);
                }
            }
        }

        return rows.ToArray();
    }

    /// <summary>A whole grayscale PNG: IHDR, one IDAT with <see cref="Rows"/>, IEND.</summary>
    public static byte[] Gray(ushort[] values, int width, int height, int bitDepth, bool interlaced = false) => File(
        Chunk("IHDR", Header(width, height, bitDepth, interlace: interlaced ? 1 : 0)),
        Chunk("IDAT", Zlib(Rows(values, width, height, bitDepth, interlaced))),
        Chunk("IEND", []));

    /// <summary>
    /// A whole PNG of any colour type from pixel-interleaved samples (<paramref name="samples"/> per pixel: 2 for gray
    /// + alpha, 3 for RGB, 4 for RGBA), one filter-0 row each, big-endian when 16-bit; <paramref name="palette"/>
    /// (r, g, b per entry) becomes a PLTE chunk.
    /// </summary>
    public static byte[] Interleaved(
        ushort[] samplesOfPixels, int width, int height, int bitDepth, int colorType, int samples, byte[]? palette = null)
    {
        using var rows = new MemoryStream();
        for (var y = 0; y < height; y++)
        {
            rows.WriteByte(0);
            for (var i = y * width * samples; i < (y + 1) * width * samples; i++)
            {
                if (bitDepth == 16)
                {
                    rows.WriteByte((byte)(samplesOfPixels[i] >> 8));
                }

                rows.WriteByte((byte)samplesOfPixels[i]);
            }
        }

        var chunks = new List<byte[]> { Chunk("IHDR", Header(width, height, bitDepth, colorType)) };
        if (palette is not null)
        {
            chunks.Add(Chunk("PLTE", palette));
        }

        chunks.Add(Chunk("IDAT", Zlib(rows.ToArray())));
        chunks.Add(Chunk("IEND", []));
        return File([.. chunks]);
    }

    /// <summary>The offset of the first chunk of <paramref name="type"/> (its length field) in a PNG file.</summary>
    public static int FindChunk(byte[] png, string type)
    {
        for (var offset = Signature.Length; offset + 12 <= png.Length;)
        {
            var length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(offset));
            if (png.AsSpan(offset + 4, 4).SequenceEqual(Encoding.ASCII.GetBytes(type)))
            {
                return offset;
            }

            offset += 12 + length;
        }

        throw new InvalidOperationException($"The PNG has no {type} chunk.");
    }

    /// <summary>The data length of the chunk at <paramref name="offset"/>.</summary>
    public static int ChunkLength(byte[] png, int offset) => BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(offset));

    /// <summary>Writes the right CRC-32 into the chunk at <paramref name="offset"/>, after its data was changed.</summary>
    public static void FixCrc(byte[] png, int offset)
    {
        var length = ChunkLength(png, offset);
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(offset + 8 + length), Crc32(png.AsSpan(offset + 4, 4 + length)));
    }

    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
            }
        }

        return ~crc;
    }
}
