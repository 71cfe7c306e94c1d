using TorchSharp;
using static TorchSharp.torch;

namespace UNetCluster.Model.Modules;

/// <summary>
/// An expanding step: up-sampling that halves the channels (2x2 up-convolution in the paper), concatenation with
/// the centre-cropped feature map of the same level of the contracting path, then a <see cref="DoubleConv"/>.
/// </summary>
public sealed class Up : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> up;
    private readonly DoubleConv conv;

    public Up(long inChannels, long outChannels, ConvPadding padding, UpSampling upSampling) : base(nameof(Up))
    {
        up = upSampling == UpSampling.Transposed
            ? nn.ConvTranspose2d(inChannels, outChannels, kernel_size: 2, stride: 2)
            : nn.Sequential(
                ("upsample", nn.Upsample(scale_factor: [2.0, 2.0], mode: UpsampleMode.Nearest)),
                ("conv", nn.Conv2d(inChannels, outChannels, kernel_size: 3, padding: 1)));
        conv = new DoubleConv(outChannels * 2, outChannels, padding);
        RegisterComponents();
    }

    // input (B, C, h, w), skip (B, C/2, H, W) with H >= 2h -> (B, C/2, 2h - 4, 2w - 4) with valid padding
    public override Tensor forward(Tensor input, Tensor skip)
    {
        using var scope = NewDisposeScope();
        var upsampled = up.call(input);                       // (B, C/2, 2h, 2w)
        var cropped = CentreCrop(skip, upsampled.shape[2], upsampled.shape[3]);
        var joined = cat([cropped, upsampled], dim: 1);        // (B, C, 2h, 2w)
        return conv.call(joined).MoveToOuterDisposeScope();
    }

    /// <summary>Crops the centre (height x width) of a (B, C, H, W) map: the paper's "crop" of the skip connection.</summary>
    public static Tensor CentreCrop(Tensor map, long height, long width)
    {
        ArgumentNullException.ThrowIfNull(map);
        var top = (map.shape[2] - height) / 2;
        var left = (map.shape[3] - width) / 2;
        return map.narrow(2, top, height).narrow(3, left, width);
    }
}
