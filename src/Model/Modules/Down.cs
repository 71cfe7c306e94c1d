using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace UNetCluster.Model.Modules;

/// <summary>A contracting step: 2x2 max-pool with stride 2, then a <see cref="DoubleConv"/> doubling the channels.</summary>
public sealed class Down : nn.Module<Tensor, Tensor>
{
    private readonly MaxPool2d pool;
    private readonly DoubleConv conv;

    public Down(long inChannels, long outChannels, ConvPadding padding) : base(nameof(Down))
    {
        pool = nn.MaxPool2d(kernel_size: 2, stride: 2);
        conv = new DoubleConv(inChannels, outChannels, padding);
        RegisterComponents();
    }

    // (B, C, H, W) -> (B, 2C, H/2 - 4, W/2 - 4) with valid padding
    public override Tensor forward(Tensor input)
    {
        using var pooled = pool.call(input);
        return conv.call(pooled);
    }
}
