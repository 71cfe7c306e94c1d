namespace UNetCluster.Data.Augmentation;

/// <summary>
/// Data augmentation of training tiles, after Ronneberger et al. 2015, section 3.1: smooth elastic deformations
/// from random displacements on a coarse grid, plus the eight symmetries of the square. The defaults are the
/// paper's.
/// </summary>
public sealed record AugmentationOptions
{
    /// <summary>No augmentation at all: tiles are returned as cut.</summary>
    public static AugmentationOptions None => new() { Elastic = false, Rotate90 = false, Flip = false };

    /// <summary>Apply a random elastic deformation. Default: <c>true</c>.</summary>
    public bool Elastic { get; init; } = true;

    /// <summary>
    /// Control points per axis of the coarse displacement grid; the per-pixel displacements are its bicubic
    /// interpolation. At least 2. Default: 3 (the paper's 3 x 3 grid).
    /// </summary>
    public int ElasticGridSize { get; init; } = 3;

    /// <summary>
    /// Standard deviation, in pixels, of the Gaussian from which each control point's x and y displacements are
    /// drawn. 0 gives the identity. Default: 10 (the paper's value).
    /// </summary>
    public double ElasticSigmaPixels { get; init; } = 10;

    /// <summary>Rotate by a uniformly drawn multiple of 90 degrees. Default: <c>true</c>.</summary>
    public bool Rotate90 { get; init; } = true;

    /// <summary>
    /// Mirror left-right and top-bottom, each with probability 1/2. With <see cref="Rotate90"/> this draws each of
    /// the square's eight symmetries with equal probability. Default: <c>true</c>.
    /// </summary>
    public bool Flip { get; init; } = true;

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        if (ElasticGridSize < 2)
        {
            throw new ArgumentException(
                $"{nameof(ElasticGridSize)} must be at least 2 control points per axis; got {ElasticGridSize}.");
        }

        if (!double.IsFinite(ElasticSigmaPixels) || ElasticSigmaPixels < 0)
        {
            throw new ArgumentException(
                $"{nameof(ElasticSigmaPixels)} must be a finite number of pixels, 0 or more; got {ElasticSigmaPixels}.");
        }
    }
}
