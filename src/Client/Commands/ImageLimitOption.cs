using System.CommandLine;
using UNetCluster.Data.Imaging;

namespace UNetCluster.Client.Commands;

/// <summary><c>--max-image-pixels</c>, the one definition that train, predict and dataset upload share.</summary>
internal sealed class ImageLimitOption
{
    public Option<long?> Option { get; } = new("--max-image-pixels")
    {
        Description = $"The most pixels (width x height) of one image or page to decode, checked from the header first (default {ImageLimits.DefaultMaxPixelsPerImage:N0}).",
    };

    /// <summary>The pixels given (null: the default); a value below 1 is refused naming the option.</summary>
    public long? Pixels(ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        return parse.GetValue(Option) is < 1 and var bad
            ? throw new UserInputException($"--max-image-pixels {bad} is invalid: expected a whole number of pixels of at least 1.")
            : parse.GetValue(Option);
    }

    /// <summary>The limits the option gives.</summary>
    public ImageLimits Limits(ParseResult parse) => ImageLimits.For(Pixels(parse));
}
