using static TorchSharp.torch;

namespace UNetCluster.Model.Modules;

/// <summary>
/// Data-parallel plumbing beside <see cref="UNet"/>: reports, during a backward pass, each time the parameters of a
/// stage and of every later stage have their final gradient, so a worker can send those gradients while the backward
/// pass goes on through the earlier stages. Forward hooks wrap each stage's output in a <see cref="GradientProbe"/>
/// while <see cref="StagesComplete"/> is set (and gradients are recorded); otherwise they leave the graph as it is, and
/// the values are the same either way.
/// </summary>
public sealed class GradientStages
{
    /// <summary>Attaches the probes to <paramref name="model"/>'s stages; set <see cref="StagesComplete"/> before a forward pass to use them.</summary>
    public GradientStages(UNet model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var stages = model.Stages;
        for (var stage = 0; stage < stages.Count - 1; stage++)
        {
            var next = stage + 1;   // the output of a stage is read by the next one on
            switch (stages[stage])
            {
                case nn.Module<Tensor, Tensor> single:
                    single.register_forward_hook((_, _, output) => Probe(output, next));
                    break;
                case nn.Module<Tensor, Tensor, Tensor> joined:
                    joined.register_forward_hook((_, _, _, output) => Probe(output, next));
                    break;
                default:
                    throw new InvalidOperationException($"U-Net stage {stage} is a {stages[stage].GetType().Name}, which cannot be probed.");
            }
        }
    }

    /// <summary>
    /// When set, called on the thread running a backward pass through a graph built after it was set, with a stage
    /// index s (<see cref="UNet.StageParameterOffsets"/>) each time the parameters of stage s and of every later stage
    /// have their final gradient: 2*Depth+1 (the head) first, then down to 1. Stage 0's gradient is final when the
    /// backward pass returns.
    /// </summary>
    public Action<int>? StagesComplete { get; set; }

    private Tensor Probe(Tensor output, int stage) =>
        StagesComplete is { } report && is_grad_enabled() ? GradientProbe.Wrap(output, stage, report) : null!;   // null: the output as it is
}
