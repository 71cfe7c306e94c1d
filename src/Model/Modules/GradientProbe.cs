using static TorchSharp.torch;

namespace UNetCluster.Model.Modules;

/// <summary>
/// An identity in the forward pass whose backward reports, on the thread running the backward pass, that the gradient
/// flowing into the probed activation is complete. <see cref="UNet"/> probes the activation between two stages: its
/// gradient is complete only once every stage that reads it, and every stage after those, has run its backward, so
/// the report means "the parameters of stage <c>s</c> and after have their final gradient". libtorch runs the
/// weight-gradient accumulation of a layer before anything else that becomes ready with it, so those gradients are
/// written by then. The gradient itself passes through unchanged.
/// </summary>
internal sealed class GradientProbe : autograd.SingleTensorFunction<GradientProbe>
{
    private const string StageKey = "stage";
    private const string ReportKey = "report";

    public override string Name => nameof(GradientProbe);

    /// <summary>Returns <paramref name="activation"/> as it is (a view); in the backward pass, calls <paramref name="report"/>(<paramref name="stage"/>).</summary>
    public static Tensor Wrap(Tensor activation, int stage, Action<int> report) => apply(activation, stage, report);

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ArgumentNullException.ThrowIfNull(vars);
        ctx.save_data(StageKey, vars[1]);
        ctx.save_data(ReportKey, vars[2]);
        return ((Tensor)vars[0]).view_as((Tensor)vars[0]);
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ((Action<int>)ctx.get_data(ReportKey))((int)ctx.get_data(StageKey));
        return [grad_output, null!, null!];
    }
}
