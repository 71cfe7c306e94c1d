using UNetCluster.Contracts.Messages;

namespace UNetCluster.Training.Worker;

/// <summary>
/// A test seam, not a user option: faults a test injects into a silo's worker to prove that the cluster contains them.
/// Nothing in the product sets it; a silo built without tests leaves it empty, and the step runs as written.
/// </summary>
public sealed class WorkerFaults
{
    /// <summary>
    /// When it returns true for a step's plan, the worker sends that attempt's gradient with every value replaced by
    /// NaN, after its own check (as a corrupted message or a worker without the check would): the reducers must refuse it.
    /// </summary>
    public Func<StepPlan, bool>? PoisonGradient { get; set; }

    /// <summary>The gradient message to send for bucket <paramref name="message"/> of <paramref name="plan"/>: itself, or a poisoned copy.</summary>
    internal byte[] Apply(StepPlan plan, byte[] message)
    {
        if (PoisonGradient is not { } poison || !poison(plan))
        {
            return message;
        }

        var poisoned = new byte[message.Length];
        for (var i = 0; i + 1 < poisoned.Length; i += 2)
        {
            (poisoned[i], poisoned[i + 1]) = (0xC0, 0x7F);   // 0x7FC0: a quiet NaN as bf16, and both halves of a float32 NaN
        }

        return poisoned;
    }
}
