namespace UNetCluster.Model.Training;

/// <summary>A committed step, as reported to a progress display.</summary>
/// <param name="Step">Steps committed so far (1-based after the first).</param>
/// <param name="TotalSteps">Steps the run is set to reach.</param>
/// <param name="Loss">This step's mean loss.</param>
/// <param name="SmoothedLoss">Exponential moving average of the loss (0.9).</param>
/// <param name="TilesPerSecond">Training throughput over the run so far.</param>
/// <param name="Elapsed">Time in the training loop so far.</param>
/// <param name="Remaining">Estimated time to the end (the step or time limit, whichever comes first).</param>
public sealed record TrainingProgress(
    long Step, long TotalSteps, double Loss, double SmoothedLoss, double TilesPerSecond, TimeSpan Elapsed, TimeSpan Remaining);

/// <summary>How a training run ended.</summary>
public enum TrainingStop
{
    /// <summary>All steps ran.</summary>
    Completed,

    /// <summary>The time budget ran out first.</summary>
    TimeLimit,

    /// <summary>The user asked to stop (Ctrl+C); a checkpoint was written.</summary>
    Cancelled,
}

/// <summary>The end of a training loop.</summary>
public sealed record TrainingOutcome(long Step, TrainingStop Stop, double SmoothedLoss, TimeSpan Elapsed, double TilesPerSecond, string? Checkpoint);
