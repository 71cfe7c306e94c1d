using UNetCluster.Data.Imaging;

namespace UNetCluster.Data.DataSets;

/// <summary>
/// One image with its mask. <see cref="Mask"/> has one byte per pixel of <see cref="Image"/> (same width, height and
/// row-major order): 1 = foreground (mask value &gt; 0, i.e. 255 = cell interior in ISBI 2012), 0 = background or
/// membrane. <see cref="Id"/> is the file name stem, with <c>#page</c> appended for a page of a TIFF stack.
/// </summary>
public sealed record LabelledSection(string Id, GrayImage Image, byte[] Mask)
{
    /// <summary>
    /// For an instance mask (<see cref="MaskKind.Instances"/>): the object id of each pixel of <see cref="Mask"/>'s
    /// foreground, 0 elsewhere, so the weight map's objects are the instances (touching ones stay apart); null for a
    /// binary mask, whose objects are its connected components.
    /// </summary>
    public int[]? Instances { get; init; }
}
