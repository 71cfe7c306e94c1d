namespace UNetCluster.Data.WeightMaps;

/// <summary>
/// Parameters of the U-Net paper's pixel-wise loss weight map (Ronneberger et al. 2015, equation 2).
/// </summary>
/// <param name="W0">Height of the border term, w0; the paper uses 10. Zero turns the border term off.</param>
/// <param name="Sigma">Width of the border term, σ, in pixels; the paper uses 5.</param>
/// <param name="BalanceClasses">
/// Whether w_c balances the class frequencies of each mask (true, as in the paper) or is 1 everywhere (false).
/// </param>
/// <param name="ClassWeights">
/// Fixed w_c by class index, one per class, in place of the balance (which must then be off): the same weights on every
/// mask, such as 1, 1, 100 to stress a rare border class without weighing the background down. Null: the balance decides.
/// </param>
public sealed record WeightMapOptions(double W0 = 10, double Sigma = 5, bool BalanceClasses = true, IReadOnlyList<double>? ClassWeights = null)
{
    /// <summary>The largest fixed class weight accepted.</summary>
    public const double MaxClassWeight = 10_000;
}
