using System.Globalization;

namespace UNetCluster.Data.Imaging;

/// <summary>
/// How large an image <see cref="ImageReader"/> agrees to decode, checked against the sizes a file's header declares
/// before any pixel is decoded: a few hundred bytes of PNG or TIFF can declare 20000x20000 pixels and would otherwise
/// exhaust memory while decoding. Pass one to <see cref="ImageReader"/> or <see cref="DataSets.DataSetLoader"/> to
/// raise or lower the limits; <see cref="Default"/> is used where none is given.
/// </summary>
/// <param name="MaxPixelsPerImage">
/// The most pixels (width x height) of one image or one page of a TIFF stack. The default, 2^28 = 268,435,456 pixels
/// (16384 x 16384), takes a 16000 x 16000 slide scan for prediction; its 16-bit samples alone are 512 MiB once read.
/// </param>
/// <param name="MaxPixelsPerFile">
/// The most pixels of all the pages of one file together (a TIFF stack; for a PNG it is its one page). The default,
/// 2^30 = 1,073,741,824 pixels, is 2 GiB of samples: four default-limit pages, or 4096 pages of 512 x 512 EM sections.
/// </param>
public sealed record ImageLimits(long MaxPixelsPerImage = ImageLimits.DefaultMaxPixelsPerImage, long MaxPixelsPerFile = ImageLimits.DefaultMaxPixelsPerFile)
{
    /// <summary>2^28 pixels (16384 x 16384): see <see cref="MaxPixelsPerImage"/>.</summary>
    public const long DefaultMaxPixelsPerImage = 1L << 28;

    /// <summary>2^30 pixels: see <see cref="MaxPixelsPerFile"/>.</summary>
    public const long DefaultMaxPixelsPerFile = 1L << 30;

    /// <summary>Where a user raises the limits.</summary>
    private const string RaiseHint = " (raise the limit with unet's --max-image-pixels, or a silo's UNetCluster:Data:MaxImagePixels)";

    /// <summary>The limits used when none are given.</summary>
    public static ImageLimits Default { get; } = new();

    public long MaxPixelsPerImage { get; init; } = MaxPixelsPerImage >= 1
        ? MaxPixelsPerImage
        : throw new ArgumentOutOfRangeException(nameof(MaxPixelsPerImage), MaxPixelsPerImage, "An image limit is at least 1 pixel.");

    public long MaxPixelsPerFile { get; init; } = MaxPixelsPerFile >= 1
        ? MaxPixelsPerFile
        : throw new ArgumentOutOfRangeException(nameof(MaxPixelsPerFile), MaxPixelsPerFile, "A file limit is at least 1 pixel.");

    /// <summary>
    /// The limits for a configured number of pixels per image (null: the defaults); a file may hold at least that much,
    /// and never less than <see cref="DefaultMaxPixelsPerFile"/>.
    /// </summary>
    public static ImageLimits For(long? maxPixelsPerImage) =>
        maxPixelsPerImage is { } pixels ? new ImageLimits(pixels, Math.Max(pixels, DefaultMaxPixelsPerFile)) : Default;

    /// <summary>
    /// Throws an <see cref="InvalidImageException"/> naming the file, the declared size and the limit when a
    /// <paramref name="width"/> x <paramref name="height"/> image (<paramref name="where"/>: "its image", "page 3")
    /// is over <see cref="MaxPixelsPerImage"/>.
    /// </summary>
    internal void CheckImage(string path, string where, int width, int height)
    {
        var pixels = (long)width * height;
        if (pixels > MaxPixelsPerImage)
        {
            throw new InvalidImageException(
                path,
                string.Create(CultureInfo.InvariantCulture, $"is too large: {where} is {width}x{height} = {pixels:N0} pixels, over the limit of {MaxPixelsPerImage:N0} " +
                $"pixels per image ({nameof(ImageLimits)}.{nameof(MaxPixelsPerImage)}); it was not decoded{RaiseHint}"));
        }
    }

    /// <summary>Throws naming the file when all its <paramref name="pageCount"/> pages hold more than <see cref="MaxPixelsPerFile"/>.</summary>
    internal void CheckFile(string path, int pageCount, long pixels)
    {
        if (pixels > MaxPixelsPerFile)
        {
            throw new InvalidImageException(
                path,
                string.Create(CultureInfo.InvariantCulture, $"is too large: {(pageCount == 1 ? "its one page holds" : $"its {pageCount} pages hold")} {pixels:N0} pixels together, over the limit of {MaxPixelsPerFile:N0} " +
                $"pixels per file ({nameof(ImageLimits)}.{nameof(MaxPixelsPerFile)}); it was not decoded{RaiseHint}"));
        }
    }
}
