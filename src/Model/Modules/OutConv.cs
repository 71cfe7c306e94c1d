using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace UNetCluster.Model.Modules;

/// <summary>The final 1x1 convolution mapping the first level's features to one logit map per class.</summary>
public sealed class OutConv : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d conv;

    public OutConv(long inChannels, long classes) : base(nameof(OutConv))
    {
        conv = nn.Conv2d(inChannels, classes, kernel_size: 1);
        RegisterComponents();
    }

    // (B, C, H, W) -> (B, classes, H, W)
    public override Tensor forward(Tensor input) => conv.call(input);
}
