namespace UNetCluster.Data.Imaging;

/// <summary>
/// Reads 8- and 16-bit PNG and TIFF files, TIFF stacks included, into <see cref="GrayImage"/>s of 1 to
/// <see cref="GrayImage.MaxChannels"/> channels: grayscale as one, RGB as three, alpha dropped (see the codecs).
/// Anything else (other bit depths, float samples, more channels, a file that is cut short or corrupt, one whose
/// header declares more pixels than <see cref="ImageLimits"/> allows) is refused
/// with an <see cref="InvalidImageException"/> naming the file. Files are only ever read: each is loaded into memory
/// once and decoded from there.
/// </summary>
public static class ImageReader
{
    private static readonly HashSet<string> Extensions = new([".png", ".tif", ".tiff"], StringComparer.OrdinalIgnoreCase);

    /// <summary>The file extensions read, with the dot, compared case-insensitively: .png, .tif, .tiff.</summary>
    public static IReadOnlySet<string> SupportedExtensions => Extensions;

    /// <summary>Whether <paramref name="path"/> has one of the <see cref="SupportedExtensions"/>.</summary>
    public static bool IsSupported(string path) => Extensions.Contains(Path.GetExtension(path));

    /// <summary>Reads a PNG or a single-page TIFF. A multi-page TIFF is refused: use <see cref="ReadPages"/>.</summary>
    /// <param name="limits">The largest image decoded; <see cref="ImageLimits.Default"/> when null.</param>
    public static GrayImage Read(string path, ImageLimits? limits = null) => Decode(path, singlePage: true, limits)[0];

    /// <summary>Reads every page of a TIFF stack, in file order, or the one page of a PNG.</summary>
    /// <param name="limits">The largest image and stack decoded; <see cref="ImageLimits.Default"/> when null.</param>
    public static IReadOnlyList<GrayImage> ReadPages(string path, ImageLimits? limits = null) => Decode(path, singlePage: false, limits);

    /// <summary>
    /// Reads every page of a PNG or TIFF held in memory (fetched from storage, say); <paramref name="source"/> names it
    /// in errors and becomes the images' <see cref="GrayImage.Source"/>.
    /// </summary>
    public static IReadOnlyList<GrayImage> ReadPages(string source, byte[] bytes, ImageLimits? limits = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(source);
        ArgumentNullException.ThrowIfNull(bytes);
        return Decode(source, bytes, singlePage: false, limits ?? ImageLimits.Default);
    }

    private static IReadOnlyList<GrayImage> Decode(string path, bool singlePage, ImageLimits? limits)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return Decode(path, ReadBytes(path), singlePage, limits ?? ImageLimits.Default);
    }

    private static IReadOnlyList<GrayImage> Decode(string path, byte[] bytes, bool singlePage, ImageLimits limits)
    {
        if (PngCodec.HasSignature(bytes))
        {
            return [PngCodec.Read(path, bytes, limits)];
        }

        if (TiffCodec.HasSignature(bytes))
        {
            return TiffCodec.Read(path, bytes, singlePage, limits);
        }

        var what = bytes.Length == 0 ? "is empty (0 bytes)" : "is not a PNG or TIFF file (its first bytes are neither signature)";
        throw new InvalidImageException(path, what);
    }

    private static byte[] ReadBytes(string path)
    {
        if (Directory.Exists(path))
        {
            throw new InvalidImageException(path, "is a folder, not an image file (use DataSetLoader.LoadImages for a folder)");
        }

        if (!File.Exists(path))
        {
            throw new InvalidImageException(path, "does not exist");
        }

        if (!IsSupported(path))
        {
            throw new InvalidImageException(path, $"has the unsupported extension '{Path.GetExtension(path)}'");
        }

        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidImageException(path, $"could not be read ({e.Message})", e);
        }
    }
}
