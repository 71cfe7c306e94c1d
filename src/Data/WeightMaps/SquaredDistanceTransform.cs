namespace UNetCluster.Data.WeightMaps;

/// <summary>
/// The exact 1-D squared Euclidean distance transform of Felzenszwalb and Huttenlocher ("Distance Transforms of
/// Sampled Functions", Theory of Computing 8, 2012): d(q) = min_p ((q − p)² + f(p)), the lower envelope of
/// parabolas, in linear time. Applied along rows and then along columns it gives the exact 2-D squared EDT.
/// </summary>
internal sealed class SquaredDistanceTransform
{
    /// <summary>Stands for +∞: a position with no source. Such positions add no parabola to the envelope.</summary>
    public const int Infinity = int.MaxValue;

    private readonly int[] _vertices;
    private readonly double[] _boundaries;
    private readonly int[] _line;
    private readonly int[] _result;

    public SquaredDistanceTransform(int maxLength)
    {
        _vertices = new int[maxLength];
        _boundaries = new double[maxLength + 1];
        _line = new int[maxLength];
        _result = new int[maxLength];
    }

    /// <summary>
    /// The exact 2-D squared distance transform of a (width x height) grid, row-major, in place: each f(p) becomes
    /// min_q (|p − q|² + f(q)), by the 1-D transform along every row and then every column. Width and height are at
    /// most the length this instance was made for.
    /// </summary>
    public void TransformGrid(Span<int> grid, int width, int height)
    {
        for (var y = 0; y < height; y++)
        {
            var row = grid.Slice(y * width, width);
            row.CopyTo(_line);
            Transform(_line.AsSpan(0, width), row);
        }

        for (var x = 0; x < width; x++)
        {
            for (var y = 0; y < height; y++)
            {
                _line[y] = grid[(y * width) + x];
            }

            Transform(_line.AsSpan(0, height), _result);
            for (var y = 0; y < height; y++)
            {
                grid[(y * width) + x] = _result[y];
            }
        }
    }

    /// <summary>
    /// Writes d(q) for every q of <paramref name="f"/> into <paramref name="d"/>; every d(q) is
    /// <see cref="Infinity"/> when every f(p) is.
    /// </summary>
    public void Transform(ReadOnlySpan<int> f, Span<int> d)
    {
        var k = -1;
        for (var q = 0; q < f.Length; q++)
        {
            if (f[q] == Infinity)
            {
                continue;
            }

            if (k < 0)
            {
                k = 0;
                _vertices[0] = q;
                _boundaries[0] = double.NegativeInfinity;
                _boundaries[1] = double.PositiveInfinity;
                continue;
            }

            double s;
            while (true)
            {
                var v = _vertices[k];
                s = ((f[q] + ((double)q * q)) - (f[v] + ((double)v * v))) / (2.0 * (q - v));
                if (s > _boundaries[k])
                {
                    break;
                }

                // The boundary of vertex 0 is −∞, so k never drops below 0 here.
                k--;
            }

            k++;
            _vertices[k] = q;
            _boundaries[k] = s;
            _boundaries[k + 1] = double.PositiveInfinity;
        }

        if (k < 0)
        {
            d[..f.Length].Fill(Infinity);
            return;
        }

        k = 0;
        for (var q = 0; q < f.Length; q++)
        {
            while (_boundaries[k + 1] < q)
            {
                k++;
            }

            var v = _vertices[k];
            d[q] = ((q - v) * (q - v)) + f[v];
        }
    }
}
