namespace UNetCluster.Training.Coordination;

/// <summary>
/// When a job's step loop gives up instead of taking silos down again and again.
/// </summary>
/// <param name="MaxTakeoversWithoutStep">
/// Takeovers allowed since the job's last committed step: a job whose coordinators keep dying (a silo killed for its
/// memory, say) is failed with the reason by the next one instead of resumed once more.
/// </param>
/// <param name="MemoryBytes">
/// Memory of a node for one worker's step (<see cref="Model.MemoryEstimate.TrainingStepBytes"/>); null for what this
/// process may use (<see cref="Model.MemoryEstimate.AvailableBytes"/>): the silos of a cluster are alike.
/// </param>
public sealed record StepLoopLimits(int MaxTakeoversWithoutStep = 3, long? MemoryBytes = null)
{
    public static StepLoopLimits Default { get; } = new();
}
