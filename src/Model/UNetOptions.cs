namespace UNetCluster.Model;

/// <summary>How the 3x3 convolutions treat borders.</summary>
public enum ConvPadding
{
    /// <summary>Unpadded ("valid") convolutions as in the paper: every convolution shrinks the map by 2 pixels.</summary>
    Valid,

    /// <summary>Zero-padded convolutions: the output has the input's size.</summary>
    Same,
}

/// <summary>How the expanding path doubles the resolution.</summary>
public enum UpSampling
{
    /// <summary>2x2 up-convolution (transposed convolution, stride 2) halving the channels, as in the paper.</summary>
    Transposed,

    /// <summary>Nearest-neighbour up-sampling followed by a 3x3 convolution (zero padded) halving the channels.</summary>
    Nearest,
}

/// <summary>
/// The U-Net's layer plan. The defaults are the paper's network (Ronneberger, Fischer, Brox, MICCAI 2015):
/// 4 down-samplings, 64 channels at the first level doubling at each down-sampling, 1 input channel, 2 classes,
/// unpadded convolutions and 2x2 up-convolutions: 23 convolution layers, 572x572 in, 388x388 out,
/// 31,030,658 parameters.
/// </summary>
/// <param name="Depth">Number of 2x2 max-pool down-samplings (the paper: 4, giving 5 resolution levels).</param>
/// <param name="BaseChannels">Channels of the first level (the paper: 64); level i has BaseChannels * 2^i.</param>
/// <param name="InputChannels">Channels of the input image (1 for grayscale EM).</param>
/// <param name="Classes">Output classes, one logit map each (the paper: 2, membrane and cell).</param>
/// <param name="Padding">Convolution padding; <see cref="ConvPadding.Valid"/> as in the paper.</param>
/// <param name="UpSampling">Up-sampling; <see cref="Model.UpSampling.Transposed"/> as in the paper.</param>
/// <param name="Dropout">Drop-out probability at the end of the contracting path (0 disables it). The paper uses
/// drop-out there without giving a rate; it has no parameters, so it changes neither the parameter count nor the
/// state-dict keys.</param>
public sealed record UNetOptions(
    int Depth = 4,
    int BaseChannels = 64,
    int InputChannels = 1,
    int Classes = 2,
    ConvPadding Padding = ConvPadding.Valid,
    UpSampling UpSampling = UpSampling.Transposed,
    double Dropout = 0.0)
{
    /// <summary>The paper's network.</summary>
    public static UNetOptions Paper { get; } = new();

    /// <summary>Checks every value and throws <see cref="ArgumentException"/> naming the option and its accepted range.</summary>
    public UNetOptions Validate()
    {
        Require(Depth is >= 1 and <= 6, nameof(Depth), Depth, "an integer from 1 to 6");
        Require(BaseChannels is >= 1 and <= 1024, nameof(BaseChannels), BaseChannels, "an integer from 1 to 1024");
        Require(InputChannels is >= 1 and <= 64, nameof(InputChannels), InputChannels, "an integer from 1 to 64");
        Require(Classes is >= 2 and <= 256, nameof(Classes), Classes, "an integer from 2 to 256");
        Require(Enum.IsDefined(Padding), nameof(Padding), Padding, "valid or same");
        Require(Enum.IsDefined(UpSampling), nameof(UpSampling), UpSampling, "transposed or nearest");
        Require(Dropout is >= 0.0 and < 1.0, nameof(Dropout), Dropout, "a probability in [0, 1)");
        return this;
    }

    private static void Require(bool ok, string option, object value, string accepted)
    {
        if (!ok)
        {
            throw new ArgumentException($"U-Net option {option} = {value} is invalid: expected {accepted}.", option);
        }
    }
}
