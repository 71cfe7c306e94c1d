namespace UNetCluster.Data.WeightMaps;

/// <summary>
/// Parameters of the U-Net paper's pixel-wise loss weight map (Ronneberger et al. 2015, equation 2).
/// </summary>
/// <param name="W0">Height of the border term, w0; the paper uses 10. Zero turns the border term off.</param>
/// <param name="Sigma">Width of the border term, σ, in pixels; the paper uses 5.</param>
/// <param name="BalanceClasses">
/// Whether w_c balances the class frequencies of each mask (true, as in the paper) or is 1 everywhere (false).
/// </param>
/// <param name="BalanceExponent">
/// With <paramref name="BalanceClasses"/>: the power the balancing weight is raised to, in (0, 1]. 1 is the paper's
/// w_c (each class the same total weight); 0.5 softens it, so a class 300 times rarer than the mean weighs about 17
/// rather than 300 (and the common class's weight drops less far below 1).
/// </param>
public sealed record WeightMapOptions(double W0 = 10, double Sigma = 5, bool BalanceClasses = true, double BalanceExponent = 1);
