using static TorchSharp.torch;

namespace UNetCluster.Data.Tiling;

/// <summary>
/// One training example: the input <paramref name="Image"/> (C, in, in), and the <paramref name="Mask"/> (out, out)
/// and <paramref name="Weights"/> (out, out) of its centre output window, cut at <paramref name="Window"/>.
/// </summary>
/// <remarks>Disposing the tile disposes its three tensors; inside a dispose scope that is optional.</remarks>
public sealed record TrainingTile(Tensor Image, Tensor Mask, Tensor Weights, TileWindow Window) : IDisposable
{
    public void Dispose()
    {
        Image.Dispose();
        Mask.Dispose();
        Weights.Dispose();
    }
}
