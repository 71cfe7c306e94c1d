namespace UNetCluster.Data.Tiling;

/// <summary>
/// Where a training tile was cut: the top-left pixel, in section coordinates, of its output window. The input window
/// starts <see cref="TileSamplerOptions.Margin"/> pixels above and to the left of it.
/// </summary>
public readonly record struct TileWindow(int OutputTop, int OutputLeft);
