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
    /// The network input, channel-planar like <see cref="Values"/>, each channel normalised on its own as
    /// <paramref name="normalisation"/> says (null: mean/std). Mean/std: <see cref="ToUnitRange"/> shifted to zero mean
    /// and scaled to unit standard deviation (population std, floored at <see cref="StdFloor"/> so that a flat page
    /// gives zeros, not NaN). Percentile: see <see cref="NormalisePercentiles"/>.
    /// </summary>
    public float[] Normalised(IntensityNormalisation? normalisation = null)
    {
        if (normalisation is { Kind: NormalisationKind.Percentile })
        {
            return NormalisePercentiles(normalisation.LowPercentile, normalisation.HighPercentile);
        }

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

    /// <summary>
    /// Each channel's <paramref name="low"/> percentile mapped to 0 and its <paramref name="high"/> percentile to 1,
    /// linearly; values outside stay outside [0, 1] (not clipped: a bright object above the high percentile keeps its
    /// contrast). Percentiles interpolate linearly between ranks (numpy's default). A channel whose two percentiles are
    /// equal (mostly one value) is scaled by its minimum and maximum instead; a flat channel gives zeros.
    /// </summary>
    private float[] NormalisePercentiles(double low, double high)
    {
        var result = new float[Values.Length];
        var histogram = new int[MaxValue + 1];
        for (var c = 0; c < Channels; c++)
        {
            var plane = Plane(c);
            Array.Clear(histogram);
            foreach (var v in plane)
            {
                histogram[v]++;
            }

            var lo = Percentile(histogram, plane.Length, low);
            var hi = Percentile(histogram, plane.Length, high);
            if (hi <= lo)
            {
                (lo, hi) = (Percentile(histogram, plane.Length, 0), Percentile(histogram, plane.Length, 100));
            }

            var scale = hi > lo ? 1 / (hi - lo) : 0;
            var target = result.AsSpan(c * PlaneLength, PlaneLength);
            for (var i = 0; i < plane.Length; i++)
            {
                target[i] = (float)((plane[i] - lo) * scale);
            }
        }

        return result;
    }

    /// <summary>The <paramref name="percent"/> percentile of <paramref name="count"/> values given by their histogram.</summary>
    private static double Percentile(int[] histogram, int count, double percent)
    {
        var position = percent / 100 * (count - 1);
        var below = (long)Math.Floor(position);
        var fraction = position - below;
        var lower = KthSmallest(histogram, below);
        return fraction == 0 || below + 1 >= count ? lower : lower + (fraction * (KthSmallest(histogram, below + 1) - lower));
    }

    /// <summary>The value of zero-based rank <paramref name="k"/> in sorted order.</summary>
    private static int KthSmallest(int[] histogram, long k)
    {
        long seen = 0;
        for (var value = 0; value < histogram.Length; value++)
        {
            seen += histogram[value];
            if (seen > k)
            {
                return value;
            }
        }

        return histogram.Length - 1;
    }

    /// <summary>
    /// Null unless this is a 16-bit image with a channel that holds one value everywhere; then why it cannot be used
    /// (an acquisition gone wrong, or a mask given as an image): nothing in it can be normalised to a contrast.
    /// </summary>
    public string? DescribeConstant()
    {
        if (BitDepth != 16)
        {
            return null;
        }

        for (var c = 0; c < Channels; c++)
        {
            var plane = Plane(c);
            if (!plane.ContainsAnyExcept(plane[0]))
            {
                var channel = Channels == 1 ? string.Empty : $"channel {c} of ";
                return $"{channel}the 16-bit image holds the single value {plane[0]} in every pixel, so it cannot be normalised; " +
                       "expected an image with some contrast";
            }
        }

        return null;
    }
}
