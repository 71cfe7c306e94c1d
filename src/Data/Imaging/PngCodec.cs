using System.Buffers.Binary;
using System.Runtime.InteropServices;
using StbImageSharp;

namespace UNetCluster.Data.Imaging;

/// <summary>
/// Reads grayscale PNGs through StbImageSharp (a managed port of stb_image). Only the 13-byte IHDR header is
/// looked at here, to refuse colour, palette and low-bit-depth files with a precise message before decoding;
/// decompression, unfiltering and interlacing are all the library's.
/// </summary>
internal static class PngCodec
{
    private const int HeaderLength = 8 + 8 + 13; // signature, IHDR length and type, IHDR data
    private const int GrayColorType = 0;

    private static ReadOnlySpan<byte> Signature => [137, 80, 78, 71, 13, 10, 26, 10];

    public static bool HasSignature(ReadOnlySpan<byte> bytes) => bytes.StartsWith(Signature);

    public static GrayImage Read(string path, byte[] bytes)
    {
        if (bytes.Length < HeaderLength || !bytes.AsSpan(12, 4).SequenceEqual("IHDR"u8))
        {
            throw new InvalidImageException(path, "is truncated or corrupt: the PNG header (IHDR) is missing");
        }

        var width = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16));
        var height = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20));
        int bitDepth = bytes[24];
        int colorType = bytes[25];
        if (width <= 0 || height <= 0 || (long)width * height > Array.MaxLength)
        {
            throw new InvalidImageException(path, $"is corrupt: its PNG header says {width}x{height} pixels");
        }

        if (colorType != GrayColorType)
        {
            throw new InvalidImageException(path, $"has unsupported channels: {DescribeColorType(colorType)}");
        }

        if (bitDepth is not (8 or 16))
        {
            throw new InvalidImageException(path, $"has unsupported bit depth {bitDepth} (grayscale PNG)");
        }

        var values = bitDepth == 8 ? Decode8(path, bytes, width, height) : Decode16(path, bytes, width, height);
        return new GrayImage(width, height, values, bitDepth, path);
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
