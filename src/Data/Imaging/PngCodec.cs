using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.InteropServices;
using StbImageSharp;

namespace UNetCluster.Data.Imaging;

/// <summary>
/// Reads grayscale PNGs through StbImageSharp (a managed port of stb_image). Before decoding, this class reads the
/// IHDR header to refuse colour, palette, low-bit-depth and over-large (<see cref="ImageLimits"/>) files with a
/// precise message, and checks the file's own integrity, which stb_image does not: every chunk's CRC-32, and the
/// zlib stream of the image data (its Adler-32 checksum and that it holds exactly the bytes the header needs).
/// Unfiltering and interlacing are the library's.
/// </summary>
internal static class PngCodec
{
    private const int SignatureLength = 8;
    private const int IhdrLength = 13;
    private const int HeaderLength = SignatureLength + 8 + IhdrLength; // signature, IHDR length and type, IHDR data
    private const int GrayColorType = 0;

    // Adam7: each pass's first column and row and its steps, as (x0, y0, dx, dy).
    private static readonly (int X0, int Y0, int Dx, int Dy)[] Adam7Passes =
        [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)];

    private static ReadOnlySpan<byte> Signature => [137, 80, 78, 71, 13, 10, 26, 10];

    public static bool HasSignature(ReadOnlySpan<byte> bytes) => bytes.StartsWith(Signature);

    public static GrayImage Read(string path, byte[] bytes, ImageLimits limits)
    {
        if (bytes.Length < HeaderLength + 4 || !bytes.AsSpan(12, 4).SequenceEqual("IHDR"u8)
            || BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(SignatureLength)) != IhdrLength)
        {
            throw new InvalidImageException(path, "is truncated or corrupt: the PNG header (IHDR) is missing");
        }

        CheckCrc(path, bytes, SignatureLength, IhdrLength);
        var width = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16));
        var height = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20));
        int bitDepth = bytes[24];
        int colorType = bytes[25];
        int interlace = bytes[28];
        if (width <= 0 || height <= 0)
        {
            throw new InvalidImageException(path, $"is corrupt: its PNG header says {width}x{height} pixels");
        }

        limits.CheckImage(path, "its image", width, height);
        limits.CheckFile(path, 1, (long)width * height);
        if ((long)width * height > Array.MaxLength)
        {
            throw new InvalidImageException(path, $"is too large: its PNG header says {width}x{height} pixels, more than one array holds");
        }

        if (colorType != GrayColorType)
        {
            throw new InvalidImageException(path, $"has unsupported channels: {DescribeColorType(colorType)}");
        }

        if (bitDepth is not (8 or 16))
        {
            throw new InvalidImageException(path, $"has unsupported bit depth {bitDepth} (grayscale PNG)");
        }

        if (bytes[26] != 0 || bytes[27] != 0 || interlace is not (0 or 1))
        {
            throw new InvalidImageException(
                path, $"is corrupt: its PNG header has compression method {bytes[26]}, filter method {bytes[27]} and " +
                      $"interlace method {interlace}, where PNG defines only 0, 0 and 0 or 1");
        }

        var imageData = CheckChunks(path, bytes);
        CheckImageData(path, imageData, FilteredLength(width, height, bitDepth / 8, interlace == 1), width, height);
        var values = bitDepth == 8 ? Decode8(path, bytes, width, height) : Decode16(path, bytes, width, height);
        return new GrayImage(width, height, values, bitDepth, path);
    }

    /// <summary>
    /// Walks every chunk from IHDR to IEND, checking that each fits in the file and that its CRC-32 is right, and
    /// returns the image data: the IDAT chunks' data put together, which is one zlib stream.
    /// </summary>
    private static byte[] CheckChunks(string path, byte[] bytes)
    {
        using var imageData = new MemoryStream();
        var sawImageData = false;
        var offset = SignatureLength;
        while (true)
        {
            if (bytes.Length - offset < 12)
            {
                throw new InvalidImageException(
                    path, $"is truncated or corrupt: it ends at byte {bytes.Length} before its last chunk (IEND)");
            }

            var length = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(offset));
            var type = ChunkType(bytes.AsSpan(offset + 4, 4));
            if (length > int.MaxValue || length > (uint)(bytes.Length - offset - 12))
            {
                throw new InvalidImageException(
                    path, $"is truncated or corrupt: chunk {type} at byte {offset} says it holds {length} bytes, but the file " +
                          $"ends at byte {bytes.Length}");
            }

            CheckCrc(path, bytes, offset, (int)length);
            if (type == "IDAT")
            {
                imageData.Write(bytes, offset + 8, (int)length);
                sawImageData = true;
            }
            else if (type == "IEND")
            {
                break;
            }

            offset += 12 + (int)length;
        }

        if (!sawImageData)
        {
            throw new InvalidImageException(path, "is corrupt: it has no image data (no IDAT chunk)");
        }

        return imageData.ToArray();
    }

    private static void CheckCrc(string path, byte[] bytes, int chunkOffset, int length)
    {
        var typeAndData = bytes.AsSpan(chunkOffset + 4, 4 + length);
        var stored = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(chunkOffset + 8 + length));
        var computed = Checksums.Crc32(typeAndData);
        if (stored != computed)
        {
            throw new InvalidImageException(
                path, $"is corrupt: chunk {ChunkType(typeAndData[..4])} at byte {chunkOffset} has a wrong CRC " +
                      $"(stored {stored:x8}, computed {computed:x8}), so its bytes changed after it was written");
        }
    }

    /// <summary>
    /// Decompresses the zlib stream of the image data, checking its header, that it holds exactly
    /// <paramref name="expected"/> bytes (the filtered rows of a <paramref name="width"/> x <paramref name="height"/>
    /// image; decompression stops as soon as there are more) and its Adler-32 trailer.
    /// </summary>
    private static void CheckImageData(string path, byte[] data, long expected, int width, int height)
    {
        if (data.Length < 6 || (data[0] & 0x0F) != 8 || data[0] >> 4 > 7 || ((data[0] << 8) | data[1]) % 31 != 0
            || (data[1] & 0x20) != 0)
        {
            throw new InvalidImageException(path, "is corrupt: its image data (IDAT) does not start with a zlib header");
        }

        var adler = 1u;
        long decompressed = 0;
        var buffer = new byte[1 << 16];
        try
        {
            using var deflated = new MemoryStream(data, 2, data.Length - 6, writable: false);
            using var inflater = new DeflateStream(deflated, CompressionMode.Decompress);
            int read;
            while ((read = inflater.Read(buffer)) > 0)
            {
                adler = Checksums.UpdateAdler32(adler, buffer.AsSpan(0, read));
                decompressed += read;
                if (decompressed > expected)
                {
                    throw new InvalidImageException(
                        path, $"is corrupt: its image data decompresses to more than the {expected} bytes a {width}x{height} image needs");
                }
            }
        }
        catch (InvalidDataException e)
        {
            throw new InvalidImageException(path, "is truncated or corrupt: its compressed image data (IDAT) is damaged", e);
        }

        if (decompressed < expected)
        {
            throw new InvalidImageException(
                path, $"is truncated or corrupt: its image data decompresses to {decompressed} bytes where a {width}x{height} " +
                      $"image needs {expected}");
        }

        var stored = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(data.Length - 4));
        if (stored != adler)
        {
            throw new InvalidImageException(
                path, $"is corrupt: its image data has a wrong zlib checksum (Adler-32 stored {stored:x8}, computed {adler:x8})");
        }
    }

    /// <summary>Bytes of the filtered rows: one filter byte per row, per Adam7 pass when interlaced.</summary>
    private static long FilteredLength(int width, int height, int bytesPerPixel, bool interlaced)
    {
        if (!interlaced)
        {
            return height * (1 + ((long)width * bytesPerPixel));
        }

        long total = 0;
        foreach (var (x0, y0, dx, dy) in Adam7Passes)
        {
            long passWidth = (width - x0 + dx - 1) / dx;
            long passHeight = (height - y0 + dy - 1) / dy;
            if (passWidth > 0 && passHeight > 0)
            {
                total += passHeight * (1 + (passWidth * bytesPerPixel));
            }
        }

        return total;
    }

    /// <summary>A chunk type as its four letters, or in hexadecimal when they are not letters (a damaged file).</summary>
    private static string ChunkType(ReadOnlySpan<byte> type)
    {
        foreach (var c in type)
        {
            if (!char.IsAsciiLetter((char)c))
            {
                return "0x" + Convert.ToHexString(type);
            }
        }

        return System.Text.Encoding.ASCII.GetString(type);
    }

    private static ushort[] Decode8(string path, byte[] bytes, int width, int height)
    {
        ImageResult result;
        try
        {
            result = ImageResult.FromMemory(bytes, ColorComponents.Grey);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw Undecodable(path, e);
        }

        CheckSize(path, result.Width, result.Height, width, height);
        var values = new ushort[width * height];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = result.Data[i];
        }

        return values;
    }

    /// <summary>
    /// StbImageSharp's public <see cref="ImageResult"/> always converts to 8 bits, so 16-bit files go through the
    /// library's own 16-bit entry point (<c>stbi__load_and_postprocess_16bit</c>, public in the C# port), which keeps
    /// every value exactly. It returns a buffer from the library's allocator, <c>Marshal.AllocHGlobal</c>
    /// (Hebron.Runtime.CRuntime.malloc), so it is released with <see cref="Marshal.FreeHGlobal"/>, as the
    /// library's own <c>CRuntime.free</c> does; a round-trip test pins the values.
    /// </summary>
    private static unsafe ushort[] Decode16(string path, byte[] bytes, int width, int height)
    {
        ushort* decoded = null;
        try
        {
            int decodedWidth, decodedHeight, channels;
            using var stream = new MemoryStream(bytes, writable: false);
            var context = new StbImage.stbi__context(stream);
            decoded = StbImage.stbi__load_and_postprocess_16bit(
                context, &decodedWidth, &decodedHeight, &channels, (int)ColorComponents.Grey);
            if (decoded is null)
            {
                throw Undecodable(path, innerException: null);
            }

            CheckSize(path, decodedWidth, decodedHeight, width, height);
            return new ReadOnlySpan<ushort>(decoded, width * height).ToArray();
        }
        catch (Exception e) when (e is not (InvalidImageException or OutOfMemoryException))
        {
            throw Undecodable(path, e);
        }
        finally
        {
            if (decoded is not null)
            {
                Marshal.FreeHGlobal((IntPtr)decoded);
            }
        }
    }

    private static void CheckSize(string path, int decodedWidth, int decodedHeight, int width, int height)
    {
        if (decodedWidth != width || decodedHeight != height)
        {
            throw new InvalidImageException(
                path, $"is corrupt: its header says {width}x{height} but it decodes as {decodedWidth}x{decodedHeight}");
        }
    }

    /// <summary>
    /// stb_image's failure reasons come through the C# port as blank or clipped text ("IDA"), so the message says
    /// what happened in our words and keeps the library's exception, if any, as the inner one.
    /// </summary>
    private static InvalidImageException Undecodable(string path, Exception? innerException) =>
        new(path, "is truncated or corrupt: its PNG data could not be decoded", innerException);

    private static string DescribeColorType(int colorType) => colorType switch
    {
        2 => "3 channels (RGB colour)",
        3 => "a colour palette (indexed colour; save it as grayscale)",
        4 => "2 channels (grayscale + alpha)",
        6 => "4 channels (RGBA colour)",
        _ => $"unknown PNG colour type {colorType}",
    };
}
