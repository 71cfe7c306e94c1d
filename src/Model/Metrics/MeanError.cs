namespace UNetCluster.Model.Metrics;

/// <summary>
/// The standard error of a mean over validation sections: what the choices of a threshold
/// (<see cref="ThresholdSweep.BestThreshold"/>) and of the best checkpoint compare a difference against.
/// </summary>
public static class MeanError
{
    /// <summary>The values' sample standard deviation over the square root of their count; 0 for fewer than two values.</summary>
    public static double Of(IReadOnlyCollection<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count < 2)
        {
            return 0;
        }

        var mean = values.Average();
        return Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1) / values.Count);
    }
}
