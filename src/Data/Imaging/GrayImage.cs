namespace UNetCluster.Data.Imaging;

/// <summary>
/// One page as read from a file, with 1 to <see cref="MaxChannels"/> channels (grayscale is 1, RGB 3; the name
/// predates colour). <see cref="Values"/> are raw sample values, 0..255 for 8-bit and 0..65535 for 16-bit, stored
/// channel-planar: channel <c>c</c> of pixel (x, y) is at <c>c * Width * Height + y * Width + x</c>, so a
/// single-channel image is plain row-major and the values read as a (C, H, W) tensor without reordering.
/// <see cref="Source"/> is the file it came from and <see cref="Page"/> its zero-based page in a multi-page TIFF
/// (0 otherwise).
/// </summary>
public sealed record GrayImage(int Width, int Height, ushort[] Values, int BitDepth, string Source, int Page = 0, int Channels = 1)
{
    /// <summary>The most channels an image may have (RGB plus one more, or four fluorescence channels).</summary>
    public const int MaxChannels = 4;

    /// <summary>The largest standard deviation treated as zero by <see cref="Normalised"/>, so a flat page stays finite.</summary>
    public const float StdFloor = 1e-6f;

    public int Width { get; init; } = Width > 0
        ? Width
        : throw new ArgumentOutOfRangeException(nameof(Width), Width, "An image is at least 1 pixel wide.");

    public int Height { get; init; } = Height > 0
        ? Height
        : throw new ArgumentOutOfRangeException(nameof(Height), Height, "An image is at least 1 pixel high.");

    public int Channels { get; init; } = Channels is >= 1 and <= MaxChannels
        ? Channels
        : throw new ArgumentOutOfRangeException(nameof(Channels), Channels, $"An image has 1 to {MaxChannels} channels.");

    public ushort[] Values { get; init; } = Values is not null && Values.LongLength == (long)Width * Height * Channels
        ? Values
        : throw new ArgumentException(
            $"Expected {(long)Width * Height * Channels} values for a {Width}x{Height} image{(Channels == 1 ? "" : $" with {Channels} channels")}, got {Values?.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "null"}.",
            nameof(Values));

    /// <summary>Pixels per channel: <c>Width * Height</c>.</summary>
    public int PlaneLength => Width * Height;

    /// <summary>The values of channel <paramref name="channel"/>, row-major.</summary>
    public ReadOnlySpan<ushort> Plane(int channel) => Values.AsSpan(channel * PlaneLength, PlaneLength);

    public int BitDepth { get; init; } = BitDepth is 8 or 16
        ? BitDepth
        : throw new ArgumentOutOfRangeException(nameof(BitDepth), BitDepth, "Only 8- and 16-bit images are supported.");

    /// <summary>The largest value a sample of this bit depth can hold: 255 or 65535.</summary>
    public int MaxValue => (1 << BitDepth) - 1;

    /// <summary>Each value divided by <see cref="MaxValue"/>, in [0, 1], so 8- and 16-bit images share one scale.</summary>
    public float[] ToUnitRange()
    {
        var scale = 1f / MaxValue;
        var result = new float[Values.Length];
        for (var i = 0; i < Values.Length; i++)
        {
            result[i] = Values[i] * scale;
        }

        return result;
    }

    /// <summary>
    /// The network input: <see cref="ToUnitRange"/> shifted to zero mean and scaled to unit standard deviation, each
    /// channel on its own (population std, floored at <see cref="StdFloor"/> so that a flat page gives zeros, not NaN).
    /// Channel-planar like <see cref="Values"/>.
    /// </summary>
    public float[] Normalised()
    {
        var unit = ToUnitRange();
        for (var c = 0; c < Channels; c++)
        {
            var plane = unit.AsSpan(c * PlaneLength, PlaneLength);
            double sum = 0;
            foreach (var v in plane)
            {
                sum += v;
            }

            var mean = sum / plane.Length;
            double squares = 0;
            foreach (var v in plane)
            {
                var d = v - mean;
                squares += d * d;
            }

            var std = Math.Max(Math.Sqrt(squares / plane.Length), StdFloor);
            for (var i = 0; i < plane.Length; i++)
            {
                plane[i] = (float)((plane[i] - mean) / std);
            }
        }

        return unit;
    }
}
