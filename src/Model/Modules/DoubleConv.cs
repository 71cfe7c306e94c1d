using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace UNetCluster.Model.Modules;

/// <summary>Two 3x3 convolutions, each followed by a ReLU: one step of either path in the paper's figure 1.</summary>
public sealed class DoubleConv : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d conv1;
    private readonly ReLU relu1;
    private readonly Conv2d conv2;
    private readonly ReLU relu2;

    public DoubleConv(long inChannels, long outChannels, ConvPadding padding) : base(nameof(DoubleConv))
    {
        var pad = padding == ConvPadding.Valid ? 0 : 1;
        conv1 = nn.Conv2d(inChannels, outChannels, kernel_size: 3, padding: pad);
        relu1 = nn.ReLU(inplace: true);
        conv2 = nn.Conv2d(outChannels, outChannels, kernel_size: 3, padding: pad);
        relu2 = nn.ReLU(inplace: true);
        RegisterComponents();
    }

    // (B, Cin, H, W) -> (B, Cout, H - 4, W - 4) with valid padding, (B, Cout, H, W) with same padding
    public override Tensor forward(Tensor input) => relu2.call(conv2.call(relu1.call(conv1.call(input))));
}
