using UNetCluster.Data.Imaging;

namespace UNetCluster.Data.DataSets;

/// <summary>
/// One image with its mask. <see cref="Mask"/> has one byte per pixel of <see cref="Image"/> (same width, height and
/// row-major order): the class of the pixel. For binary and instance masks 1 = foreground (mask value &gt; 0, i.e.
/// 255 = cell interior in ISBI 2012), 0 = background or membrane; for class masks (<see cref="MaskKind.Classes"/>)
/// the class index 0..C-1. <see cref="Id"/> is the file name stem, with <c>#page</c> appended for a page of a TIFF
/// stack.
/// </summary>
public sealed record LabelledSection(string Id, GrayImage Image, byte[] Mask)
{
    /// <summary>What the mask file held: <see cref="MaskKind.Binary"/>, <see cref="MaskKind.Instances"/> or <see cref="MaskKind.Classes"/>.</summary>
    public MaskKind Kind { get; init; } = MaskKind.Binary;

    /// <summary>
    /// For an instance mask (<see cref="MaskKind.Instances"/>): the object id of each pixel of <see cref="Mask"/>'s
    /// foreground, 0 elsewhere, so the weight map's objects are the instances (touching ones stay apart); null for a
    /// binary mask, whose objects are its connected components.
    /// </summary>
    public int[]? Instances { get; init; }

    /// <summary>
    /// For an instance mask: 1 where an object's pixel touches another object (the border taken out of
    /// <see cref="Mask"/>'s foreground), 0 elsewhere; the third class of <see cref="Labels.InstanceTargets.WithBorderClass"/>.
    /// </summary>
    public byte[]? Border { get; init; }
}
