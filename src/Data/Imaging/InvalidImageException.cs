namespace UNetCluster.Data.Imaging;

/// <summary>
/// Thrown for any unreadable or unsupported image file. <see cref="Exception.Message"/> names the file, says what
/// is wrong and what would be accepted; <see cref="Reason"/> is the middle part alone.
/// </summary>
public sealed class InvalidImageException : Exception
{
    /// <summary>What <see cref="ImageReader"/> accepts, as said in every message.</summary>
    public const string Accepted =
        "accepted: 8- or 16-bit PNG or TIFF with 1 to 4 channels: grayscale, RGB, or either with alpha, which is dropped (.png, .tif, .tiff; TIFF stacks may have several pages)";

    public InvalidImageException(string path, string reason, Exception? innerException = null)
        : base($"{path}: {reason}; {Accepted}.", innerException)
    {
        Path = path;
        Reason = reason;
    }

    /// <summary>The file that could not be read, as given to the reader.</summary>
    public string Path { get; }

    /// <summary>What is wrong with the file, e.g. "has 3 channels (RGB)".</summary>
    public string Reason { get; }
}
