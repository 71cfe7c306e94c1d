namespace UNetCluster.Data.Imaging;

/// <summary>
/// One grayscale page as read from a file. <see cref="Values"/> are row-major (<c>y * Width + x</c>) raw sample
/// values: 0..255 for 8-bit, 0..65535 for 16-bit. <see cref="Source"/> is the file it came from and
/// <see cref="Page"/> its zero-based page in a multi-page TIFF (0 otherwise).
/// </summary>
public sealed record GrayImage(int Width, int Height, ushort[] Values, int BitDepth, string Source, int Page = 0)
{
    /// <summary>The largest standard deviation treated as zero by <see cref="Normalised"/>, so a flat page stays finite.</summary>
    public const float StdFloor = 1e-6f;

    public int Width { get; init; } = Width > 0
        ? Width
        : throw new ArgumentOutOfRangeException(nameof(Width), Width, "An image is at least 1 pixel wide.");

    public int Height { get; init; } = Height > 0
        ? Height
        : throw new ArgumentOutOfRangeException(nameof(Height), Height, "An image is at least 1 pixel high.");

    public ushort[] Values { get; init; } = Values is not null && Values.LongLength == (long)Width * Height
        ? Values
        : throw new ArgumentException(
            $"Expected {(long)Width * Height} values for a {Width}x{Height} image, got {Values?.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "null"}.",
            nameof(Values));

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
    /// The network input: <see cref="ToUnitRange"/> shifted to zero mean and scaled to unit standard deviation
    /// (population std, floored at <see cref="StdFloor"/> so that a flat page gives zeros, not NaN).
    /// </summary>
    public float[] Normalised()
    {
        var unit = ToUnitRange();
        double sum = 0;
        foreach (var v in unit)
        {
            sum += v;
        }

        var mean = sum / unit.Length;
        double squares = 0;
        foreach (var v in unit)
        {
            var d = v - mean;
            squares += d * d;
        }

        var std = Math.Max(Math.Sqrt(squares / unit.Length), StdFloor);
        for (var i = 0; i < unit.Length; i++)
        {
            unit[i] = (float)((unit[i] - mean) / std);
        }

        return unit;
    }
}
