namespace UNetCluster.Model.Metrics;

/// <summary>
/// The scores of one predicted mask against its truth, or their mean over several masks. Lower is better for
/// <see cref="PixelError"/> and <see cref="RandError"/>, higher is better for <see cref="ForegroundIoU"/> and
/// <see cref="Dice"/>; all four lie in [0, 1]. See <see cref="SegmentationMetrics"/> for the definitions.
/// </summary>
public sealed record SegmentationScores(double PixelError, double ForegroundIoU, double Dice, double RandError);
