using TorchSharp;
using UNetCluster.Data.Runtime;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace UNetCluster.Model.Modules;

/// <summary>
/// The U-Net of Ronneberger, Fischer and Brox (MICCAI 2015). The forward pass reads like the paper's figure 1:
/// a contracting path of <see cref="Down"/> steps, an expanding path of <see cref="Up"/> steps joined to it by
/// crop-and-concatenate skips, and a 1x1 <see cref="OutConv"/>. Returns logits; the loss owns the softmax.
/// </summary>
/// <remarks>
/// TorchSharp names sub-modules after their fields, so in this folder field names are the state-dict keys and
/// follow PyTorch's style (<c>inc.conv1.weight</c>, <c>downs.0.conv.conv1.weight</c>, <c>ups.0.up.weight</c>,
/// <c>outc.conv.weight</c>) instead of the house's <c>_camelCase</c> (see .editorconfig). Checkpoints depend on
/// these keys: a test pins them.
/// </remarks>
public sealed class UNet : nn.Module<Tensor, Tensor>
{
    private readonly DoubleConv inc;
    private readonly ModuleList<Down> downs;
    private readonly Dropout? dropout;
    private readonly ModuleList<Up> ups;
    private readonly OutConv outc;

    public UNet(UNetOptions options) : base(nameof(UNet))
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options.Validate();
        long Channels(int level) => (long)options.BaseChannels << level;
        TorchRuntime.RequireCorrectConvolutions(Enumerable.Range(0, options.Depth + 1).Select(Channels)); // see TorchRuntime

        inc = new DoubleConv(options.InputChannels, Channels(0), options.Padding);
        downs = new ModuleList<Down>();
        for (var level = 1; level <= options.Depth; level++)
        {
            downs.Add(new Down(Channels(level - 1), Channels(level), options.Padding));
        }

        dropout = options.Dropout > 0 ? nn.Dropout(options.Dropout) : null;
        ups = new ModuleList<Up>();
        for (var level = options.Depth; level >= 1; level--)
        {
            ups.Add(new Up(Channels(level), Channels(level - 1), options.Padding, options.UpSampling));
        }

        outc = new OutConv(Channels(0), options.Classes);
        RegisterComponents();
    }

    public UNetOptions Options { get; }

    /// <summary>
    /// When set, called during a backward pass through a graph built by <see cref="forward"/>, on the thread running
    /// it, with a stage index s (see <see cref="StageParameterOffsets"/>) each time the parameters of stage s and of
    /// every later stage have their final gradient: 2*Depth+1 (the head) first, then down to 1. The inc stage's
    /// gradient is final when the backward pass returns. A data-parallel worker sends those gradients while the
    /// backward pass goes on through the earlier stages. Set it before the forward pass; the values are unchanged.
    /// </summary>
    public Action<int>? StagesComplete { get; set; }

    /// <summary>
    /// The offset, in the flat parameter vector (the order of <c>parameters()</c>), of each stage's first parameter,
    /// in forward order: 0 inc, 1..Depth the contracting steps, Depth+1..2*Depth the expanding steps, 2*Depth+1 the
    /// head; one more entry holds the parameter count.
    /// </summary>
    public IReadOnlyList<long> StageParameterOffsets
    {
        get
        {
            var stages = new List<nn.Module> { inc };
            stages.AddRange(downs);
            stages.AddRange(ups);
            stages.Add(outc);
            var offsets = new List<long> { 0 };
            foreach (var stage in stages)
            {
                offsets.Add(offsets[^1] + stage.parameters().Sum(p => p.numel()));
            }

            return offsets;
        }
    }

    // (B, InputChannels, 572, 572) -> (B, Classes, 388, 388) for the paper's plan
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var report = is_grad_enabled() ? StagesComplete : null;
        Tensor Probe(Tensor activation, int nextStage) =>                  // the activation read by stage nextStage on
            report is null ? activation : GradientProbe.Wrap(activation, nextStage, report);

        var skips = new List<Tensor> { Probe(inc.call(input), 1) };      // level 0: (B, 64, 568, 568)
        foreach (var down in downs)
        {
            skips.Add(Probe(down.call(skips[^1]), skips.Count + 1));     // level i: (B, 64*2^i, ...), bottom (B, 1024, 28, 28)
        }

        var x = skips[^1];
        if (dropout is not null)
        {
            x = dropout.call(x);                               // drop-out at the end of the contracting path
        }

        for (var i = 0; i < ups.Count; i++)
        {
            x = Probe(ups[i].call(x, skips[skips.Count - 2 - i]), downs.Count + i + 2);   // up to level (depth - 1 - i)
        }

        return outc.call(x).MoveToOuterDisposeScope();          // (B, Classes, 388, 388)
    }

    /// <summary>Number of convolution layers (3x3, up-convolutions and the 1x1 head): 23 for the paper's plan.</summary>
    public int ConvolutionLayerCount =>
        modules().Count(m => m is Conv2d or ConvTranspose2d);

    /// <summary>Number of trainable parameters: 31,030,658 for the paper's plan.</summary>
    public long ParameterCount => parameters().Sum(p => p.numel());
}
