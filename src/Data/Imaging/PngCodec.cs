using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.InteropServices;
using StbImageSharp;

namespace UNetCluster.Data.Imaging;

/// <summary>
/// Reads PNGs through StbImageSharp (a managed port of stb_image): grayscale and gray + alpha as one channel, RGB and
/// RGBA as three (alpha is dropped: the network sees colour, not transparency), 8 or 16 bit; palette images as RGB,
/// or as one channel when every palette entry is a gray. Before decoding, this class reads the IHDR header to refuse
/// low-bit-depth gray, unknown colour types and over-large (<see cref="ImageLimits"/>) files with a precise message,
/// and checks the file's own integrity, which stb_image does not: every chunk's CRC-32, and the zlib stream of the
/// image data (its Adler-32 checksum and that it holds exactly the bytes the header needs). Unfiltering, palette
/// expansion and interlacing are the library's.
/// </summary>
internal static class PngCodec
{
    private const int SignatureLength = 8;
    private const int IhdrLength = 13;
    private const int HeaderLength = SignatureLength + 8 + IhdrLength; // signature, IHDR length and type, IHDR data
    private const int GrayColorType = 0;
    private const int RgbColorType = 2;
    private const int PaletteColorType = 3;
    private const int GrayAlphaColorType = 4;
    private const int RgbaColorType = 6;

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
        if (SamplesPerPixel(colorType) is not { } samples)
        {
            throw new InvalidImageException(path, $"has unsupported channels: {DescribeColorType(colorType)}");
        }

        if (colorType == PaletteColorType ? bitDepth is not (1 or 2 or 4 or 8) : bitDepth is not (8 or 16))
        {
            throw new InvalidImageException(path, $"has unsupported bit depth {bitDepth} ({DescribeColorType(colorType)} PNG)");
        }

        // Palette images decode to RGB; the other types to their colour channels without alpha.
        var channels = colorType is GrayColorType or GrayAlphaColorType ? 1 : 3;
        if ((long)width * height * channels > Array.MaxLength)
        {
            throw new InvalidImageException(path, $"is too large: its PNG header says {width}x{height} pixels, more than one array holds");
        }

        if (bytes[26] != 0 || bytes[27] != 0 || interlace is not (0 or 1))
        {
            throw new InvalidImageException(
                path, $"is corrupt: its PNG header has compression method {bytes[26]}, filter method {bytes[27]} and " +
                      $"interlace method {interlace}, where PNG defines only 0, 0 and 0 or 1");
        }

        var (imageData, palette) = CheckChunks(path, bytes);
        CheckImageData(path, imageData, FilteredLength(width, height, bitDepth * samples, interlace == 1), width, height);
        if (colorType == PaletteColorType)
        {
            if (palette is null || palette.Length == 0 || palette.Length % 3 != 0 || palette.Length > 3 * 256)
            {
                throw new InvalidImageException(path, "is corrupt: it is a palette image without a valid palette (PLTE chunk)");
            }

            if (IsGrayPalette(palette))
            {
                channels = 1;
            }
        }

        var values = bitDepth == 16
            ? Decode16(path, bytes, width, height, channels)
            : Decode8(path, bytes, width, height, channels);
        return new GrayImage(width, height, values, bitDepth == 16 ? 16 : 8, path, Channels: channels);
    }

    /// <summary>Samples stored per pixel for a PNG colour type (alpha included), or null for a type PNG does not define.</summary>
    private static int? SamplesPerPixel(int colorType) => colorType switch
    {
        GrayColorType => 1,
        RgbColorType => 3,
        PaletteColorType => 1,
        GrayAlphaColorType => 2,
        RgbaColorType => 4,
        _ => null,
    };

    /// <summary>Whether every palette entry has equal red, green and blue: such an image is read as one channel.</summary>
    private static bool IsGrayPalette(byte[] palette)
    {
        for (var i = 0; i < palette.Length; i += 3)
        {
            if (palette[i] != palette[i + 1] || palette[i] != palette[i + 2])
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Walks every chunk from IHDR to IEND, checking that each fits in the file and that its CRC-32 is right, and
    /// returns the image data (the IDAT chunks' data put together, which is one zlib stream) and the palette (the
    /// PLTE chunk's data, or null).
    /// </summary>
    private static (byte[] ImageData, byte[]? Palette) CheckChunks(string path, byte[] bytes)
    {
        using var imageData = new MemoryStream();
        byte[]? palette = null;
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
            else if (type == "PLTE")
            {
                palette = bytes.AsSpan(offset + 8, (int)length).ToArray();
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

        return (imageData.ToArray(), palette);
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
    private static long FilteredLength(int width, int height, int bitsPerPixel, bool interlaced)
    {
        if (!interlaced)
        {
            return height * (1 + RowBytes(width, bitsPerPixel));
        }

        long total = 0;
        foreach (var (x0, y0, dx, dy) in Adam7Passes)
        {
            long passWidth = (width - x0 + dx - 1) / dx;
            long passHeight = (height - y0 + dy - 1) / dy;
            if (passWidth > 0 && passHeight > 0)
            {
                total += passHeight * (1 + RowBytes(passWidth, bitsPerPixel));
            }
        }

        return total;
    }

    /// <summary>Bytes of one row's samples: pixels below 8 bits (palette indexes) are packed, rows end on a byte.</summary>
    private static long RowBytes(long width, int bitsPerPixel) => ((width * bitsPerPixel) + 7) / 8;

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

    /// <summary>
    /// Decodes to <paramref name="channels"/> (1: gray, 3: RGB) 8-bit samples, which stb_image returns interleaved
    /// and this method lays out channel-planar (see <see cref="GrayImage"/>). Asking for fewer channels than the file
    /// holds drops alpha; a palette of grays asked for as gray keeps each value exactly.
    /// </summary>
    private static ushort[] Decode8(string path, byte[] bytes, int width, int height, int channels)
    {
        ImageResult result;
        try
        {
            result = ImageResult.FromMemory(bytes, channels == 1 ? ColorComponents.Grey : ColorComponents.RedGreenBlue);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw Undecodable(path, e);
        }

        CheckSize(path, result.Width, result.Height, width, height);
        var values = new ushort[width * height * channels];
        Deinterleave(result.Data, values, width * height, channels);
        return values;
    }

    /// <summary>Copies pixel-interleaved samples (r, g, b per pixel) into channel planes.</summary>
    private static void Deinterleave(ReadOnlySpan<byte> interleaved, Span<ushort> planar, int pixels, int channels)
    {
        for (var c = 0; c < channels; c++)
        {
            var plane = planar.Slice(c * pixels, pixels);
            for (var i = 0; i < pixels; i++)
            {
                plane[i] = interleaved[(i * channels) + c];
            }
        }
    }

    /// <inheritdoc cref="Deinterleave(ReadOnlySpan{byte}, Span{ushort}, int, int)"/>
    private static void Deinterleave(ReadOnlySpan<ushort> interleaved, Span<ushort> planar, int pixels, int channels)
    {
        for (var c = 0; c < channels; c++)
        {
            var plane = planar.Slice(c * pixels, pixels);
            for (var i = 0; i < pixels; i++)
            {
                plane[i] = interleaved[(i * channels) + c];
            }
        }
    }

    /// <summary>
    /// StbImageSharp's public <see cref="ImageResult"/> always converts to 8 bits, so 16-bit files go through the
    /// library's own 16-bit entry point (<c>stbi__load_and_postprocess_16bit</c>, public in the C# port), which keeps
    /// every value exactly. It returns a buffer from the library's allocator, <c>Marshal.AllocHGlobal</c>
    /// (Hebron.Runtime.CRuntime.malloc), so it is released with <see cref="Marshal.FreeHGlobal"/>, as the
    /// library's own <c>CRuntime.free</c> does; a round-trip test pins the values.
    /// </summary>
    private static unsafe ushort[] Decode16(string path, byte[] bytes, int width, int height, int channels)
    {
        ushort* decoded = null;
        try
        {
            int decodedWidth, decodedHeight, fileChannels;
            using var stream = new MemoryStream(bytes, writable: false);
            var context = new StbImage.stbi__context(stream);
            decoded = StbImage.stbi__load_and_postprocess_16bit(
                context, &decodedWidth, &decodedHeight, &fileChannels, channels == 1 ? (int)ColorComponents.Grey : (int)ColorComponents.RedGreenBlue);
            if (decoded is null)
            {
                throw Undecodable(path, innerException: null);
            }

            CheckSize(path, decodedWidth, decodedHeight, width, height);
            var values = new ushort[width * height * channels];
            Deinterleave(new ReadOnlySpan<ushort>(decoded, width * height * channels), values, width * height, channels);
            return values;
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
        GrayColorType => "grayscale",
        RgbColorType => "3 channels (RGB colour)",
        PaletteColorType => "a colour palette (indexed colour)",
        GrayAlphaColorType => "2 channels (grayscale + alpha)",
        RgbaColorType => "4 channels (RGBA colour)",
        _ => $"unknown PNG colour type {colorType}",
    };
}
