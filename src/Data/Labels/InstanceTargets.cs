using UNetCluster.Data.Imaging;

namespace UNetCluster.Data.Labels;

/// <summary>
/// The foreground/background target of an instance mask (object ids, 0 = background), as the U-Net paper trains on
/// touching cells: a pixel of an object that touches (4-neighbourhood) a pixel of another object becomes background,
/// so every two touching objects are separated by a border of background that the weight map's border term stresses.
/// </summary>
public static class InstanceTargets
{
    /// <summary>The target (1 = foreground, 0 = background) and the object id of each target pixel (0 elsewhere).</summary>
    public static (byte[] Target, int[] Objects) From(GrayImage mask)
    {
        ArgumentNullException.ThrowIfNull(mask);
        var (width, height, ids) = (mask.Width, mask.Height, mask.Values);
        var target = new byte[ids.Length];
        var objects = new int[ids.Length];
        for (var i = 0; i < ids.Length; i++)
        {
            int id = ids[i];
            if (id == 0 || Touches(ids, i, width, height, id))
            {
                continue;
            }

            target[i] = 1;
            objects[i] = id;
        }

        return (target, objects);
    }

    /// <summary>The number of objects (distinct non-zero ids) in <paramref name="mask"/>.</summary>
    public static int Count(GrayImage mask)
    {
        ArgumentNullException.ThrowIfNull(mask);
        return mask.Values.Where(v => v != 0).Distinct().Count();
    }

    private static bool Touches(ushort[] ids, int i, int width, int height, int id)
    {
        var (x, y) = (i % width, i / width);
        return (x > 0 && Other(ids[i - 1], id)) || (x < width - 1 && Other(ids[i + 1], id))
            || (y > 0 && Other(ids[i - width], id)) || (y < height - 1 && Other(ids[i + width], id));
    }

    private static bool Other(ushort neighbour, int id) => neighbour != 0 && neighbour != id;
}
