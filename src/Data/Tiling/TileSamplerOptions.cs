namespace UNetCluster.Data.Tiling;

/// <summary>
/// Geometry of the training tiles of a valid-padding U-Net: an input window of <see cref="InputSize"/> pixels
/// square whose centre <see cref="OutputSize"/> x <see cref="OutputSize"/> window is what the network predicts and
/// is trained on. Which sizes a given network accepts is the model's business (the Model project computes valid
/// sizes); this record only requires a whole, even margin.
/// </summary>
public sealed record TileSamplerOptions
{
    /// <summary>Side of the input window in pixels. Default: 572 (the paper's Fig. 1).</summary>
    public int InputSize { get; init; } = 572;

    /// <summary>Side of the output (label) window in pixels, centred in the input window. Default: 388.</summary>
    public int OutputSize { get; init; } = 388;

    /// <summary>
    /// The share of tiles, 0 to 1, placed around a focus pixel of their section (the pixels of its rarest foreground
    /// class, <see cref="TileSampler.FocusPixels"/>) instead of anywhere; 0 (the default) places every tile uniformly.
    /// nnU-Net places a third of its patches on foreground the same way.
    /// </summary>
    public double Oversample { get; init; }

    /// <summary>Pixels of context on each side of the output window: (InputSize - OutputSize) / 2.</summary>
    public int Margin => (InputSize - OutputSize) / 2;

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        if (OutputSize < 1)
        {
            throw new ArgumentException($"{nameof(OutputSize)} must be at least 1 pixel; got {OutputSize}.");
        }

        if (!(Oversample is >= 0 and <= 1))
        {
            throw new ArgumentException($"{nameof(Oversample)} must be from 0 to 1; got {Oversample}.");
        }

        if (InputSize < OutputSize || (InputSize - OutputSize) % 2 != 0)
        {
            throw new ArgumentException(
                $"{nameof(InputSize)} must be {nameof(OutputSize)} plus an even number of pixels, so that the output " +
                $"window is centred; got {nameof(InputSize)} = {InputSize}, {nameof(OutputSize)} = {OutputSize}.");
        }
    }
}
