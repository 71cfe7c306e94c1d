namespace UNetCluster.Model.Metrics;

/// <summary>Argument checks shared by the metrics.</summary>
internal static class MaskChecks
{
    public static void RequireSize(int length, int width, int height, string paramName)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        if ((long)width * height != length)
        {
            throw new ArgumentException(
                $"The mask holds {length} pixels but {width}x{height} = {(long)width * height} were expected.", paramName);
        }
    }

    public static void RequireSameLength(int predicted, int truth)
    {
        if (predicted != truth)
        {
            throw new ArgumentException(
                $"The prediction holds {predicted} pixels and the truth {truth}: they must be the same size.", nameof(predicted));
        }

        if (truth == 0)
        {
            throw new ArgumentException("The masks are empty: a score needs at least one pixel.", nameof(truth));
        }
    }
}
