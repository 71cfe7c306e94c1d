namespace UNetCluster.Data.DataSets;

/// <summary>What a data set's mask files hold (<c>--mask-kind</c>).</summary>
public enum MaskKind
{
    /// <summary>
    /// Binary masks as they are; a 16-bit mask with several non-zero values is an instance mask. Anything else (an
    /// 8-bit mask with several values could hold class indices or object ids) is refused, naming the kinds it could be.
    /// </summary>
    Auto,

    /// <summary>0 = background, one other value (the bit depth's maximum, or 1) = foreground.</summary>
    Binary,

    /// <summary>
    /// Object ids: 0 = background, each other value one object (8 or 16 bit). The training target is the objects'
    /// pixels less those that touch another object, so touching objects are separated by a background border that
    /// the paper's weight map stresses (its section 3, figure 3).
    /// </summary>
    Instances,

    /// <summary>
    /// Class indices: each pixel value (8 or 16 bit) is a class 0..C-1, 0 = background. C is the largest index + 1
    /// (at least 2) or <c>--classes</c>; at most 256 classes.
    /// </summary>
    Classes,
}
