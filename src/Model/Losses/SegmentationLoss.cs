using TorchSharp;
using static TorchSharp.torch;

namespace UNetCluster.Model.Losses;

/// <summary>The training objective.</summary>
public enum LossKind
{
    /// <summary>The paper's pixel-wise softmax cross-entropy, each pixel weighted by the weight map w(x).</summary>
    WeightedCrossEntropy,

    /// <summary>Soft Dice over the foreground classes (an option; not in the paper).</summary>
    SoftDice,

    /// <summary>
    /// Soft Dice plus the weighted cross-entropy, summed with equal weights (nnU-Net's default compound loss): Dice
    /// copes with rare classes, the cross-entropy keeps the gradients of every pixel and the weight map's borders.
    /// </summary>
    DiceCrossEntropy,
}

/// <summary>Losses over U-Net logits. The model returns logits; the softmax lives here.</summary>
public static class SegmentationLoss
{
    /// <summary>
    /// The paper's energy, E = sum_x w(x) log p_l(x)(x), as a mean over pixels: cross-entropy of the per-pixel
    /// softmax, weighted by <paramref name="weights"/> (the weight map; all ones when null).
    /// </summary>
    /// <param name="logits">(B, C, H, W) network output.</param>
    /// <param name="target">(B, H, W) class index per pixel (int64).</param>
    /// <param name="weights">(B, H, W) weight per pixel, or null.</param>
    public static Tensor WeightedCrossEntropy(Tensor logits, Tensor target, Tensor? weights)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(target);
        using var scope = NewDisposeScope();
        var perPixel = nn.functional.cross_entropy(logits, target, reduction: nn.Reduction.None); // (B, H, W)
        var loss = weights is null ? perPixel.mean() : (perPixel * weights).mean();
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// 1 - soft Dice of the softmax probabilities against the one-hot target, averaged over the foreground classes
    /// (1..C-1, for any number of classes C) that the batch's target holds, and computed over the whole batch; 0 when
    /// it holds none. A class absent from the batch is left to the cross-entropy: its Dice, (2·0 + s) / (Σp + s), would
    /// be near 0 for any faint probability over a tile's tens of thousands of pixels, so a rare class (the border
    /// between touching nuclei, in most tiles absent) would be pushed to exactly 0 everywhere and never predicted.
    /// </summary>
    public static Tensor SoftDice(Tensor logits, Tensor target, double smooth = 1.0)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(target);
        using var scope = NewDisposeScope();
        var classes = logits.shape[1];
        var probabilities = nn.functional.softmax(logits, dim: 1);                               // (B, C, H, W)
        var oneHot = nn.functional.one_hot(target, classes).permute(0, 3, 1, 2).to_type(logits.dtype); // (B, C, H, W)
        var dims = new long[] { 0, 2, 3 };
        var intersection = (probabilities * oneHot).sum(dims);                                   // (C)
        var total = probabilities.sum(dims) + oneHot.sum(dims);                                  // (C)
        var dice = ((2 * intersection) + smooth) / (total + smooth);
        var present = (oneHot.sum(dims) > 0).narrow(0, 1, classes - 1).to_type(logits.dtype);  // (C - 1)
        var loss = ((1 - dice.narrow(0, 1, classes - 1)) * present).sum() / present.sum().clamp_min(1);
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary><see cref="SoftDice"/> + <see cref="WeightedCrossEntropy"/>, equally weighted.</summary>
    public static Tensor DiceCrossEntropy(Tensor logits, Tensor target, Tensor? weights)
    {
        using var scope = NewDisposeScope();
        var loss = SoftDice(logits, target) + WeightedCrossEntropy(logits, target, weights);
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>The loss of a kind; weights are used by the (weighted) cross-entropy terms only.</summary>
    public static Tensor Compute(LossKind kind, Tensor logits, Tensor target, Tensor? weights) => kind switch
    {
        LossKind.WeightedCrossEntropy => WeightedCrossEntropy(logits, target, weights),
        LossKind.SoftDice => SoftDice(logits, target),
        LossKind.DiceCrossEntropy => DiceCrossEntropy(logits, target, weights),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "expected weighted-cross-entropy, soft-dice or dice-cross-entropy"),
    };
}
