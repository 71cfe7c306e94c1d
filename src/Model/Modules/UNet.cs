using TorchSharp;
using TorchSharp.Modules;
using UNetCluster.Data.Runtime;
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
    /// The network's stages in forward order: 0 inc, 1..Depth the contracting steps, Depth+1..2*Depth the expanding
    /// steps, 2*Depth+1 the head. <see cref="GradientStages"/> probes between them.
    /// </summary>
    internal IReadOnlyList<nn.Module> Stages => [inc, .. downs, .. ups, outc];

    /// <summary>
    /// The offset, in the flat parameter vector (the order of <c>parameters()</c>), of each stage's first parameter
    /// (see <see cref="Stages"/>); one more entry holds the parameter count.
    /// </summary>
    public IReadOnlyList<long> StageParameterOffsets
    {
        get
        {
            var offsets = new List<long> { 0 };
            foreach (var stage in Stages)
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
        var skips = new List<Tensor> { inc.call(input) };                // level 0: (B, 64, 568, 568)
        foreach (var down in downs)
        {
            skips.Add(down.call(skips[^1]));                              // level i: (B, 64*2^i, ...); bottom (B, 1024, 28, 28)
        }

        var x = dropout?.call(skips[^1]) ?? skips[^1];                    // drop-out at the end of the contracting path
        for (var i = 0; i < ups.Count; i++)
        {
            x = ups[i].call(x, skips[^(i + 2)]);                          // up to level Depth-1-i, joined to its skip
        }

        return outc.call(x).MoveToOuterDisposeScope();                    // (B, Classes, 388, 388)
    }

    /// <summary>Number of convolution layers (3x3, up-convolutions and the 1x1 head): 23 for the paper's plan.</summary>
    public int ConvolutionLayerCount =>
        modules().Count(m => m is Conv2d or ConvTranspose2d);

    /// <summary>Number of trainable parameters: 31,030,658 for the paper's plan.</summary>
    public long ParameterCount => parameters().Sum(p => p.numel());
}
