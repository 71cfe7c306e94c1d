using StbImageWriteSharp;

namespace UNetCluster.Data.Imaging;

/// <summary>
/// Writes 8-bit PNGs (predicted masks, overlays) through StbImageWriteSharp. Creates the parent folder if needed and
/// replaces an existing file.
/// </summary>
public static class PngWriter
{
    /// <summary>Writes a single-channel 8-bit PNG; <paramref name="values"/> is row-major, <c>width * height</c> long.</summary>
    public static void WriteGray8(string path, byte[] values, int width, int height) =>
        Write(path, values, width, height, ColorComponents.Grey, channels: 1);

    /// <summary>Writes an 8-bit RGB PNG; <paramref name="rgb"/> is row-major and interleaved (r, g, b per pixel).</summary>
    public static void WriteRgb8(string path, byte[] rgb, int width, int height) =>
        Write(path, rgb, width, height, ColorComponents.RedGreenBlue, channels: 3);

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
