using UNetCluster.Data.Imaging;

namespace UNetCluster.Data.Labels;

/// <summary>
/// The foreground/background target of an instance mask (object ids, 0 = background), as the U-Net paper trains on
/// touching cells: a pixel of an object that touches (4-neighbourhood) a pixel of another object becomes background,
/// so every two touching objects are separated by a border of background that the weight map's border term stresses.
/// </summary>
public static class InstanceTargets
{
    /// <summary>The class of the border pixels in <see cref="WithBorderClass"/>'s three-class target.</summary>
    public const byte BorderClass = 2;

    /// <summary>The target (1 = foreground, 0 = background) and the object id of each target pixel (0 elsewhere).</summary>
    public static (byte[] Target, int[] Objects) From(GrayImage mask)
    {
        var (target, objects, _) = FromWithBorder(mask);
        return (target, objects);
    }

    /// <summary>
    /// <see cref="From"/>, and the border: 1 where an object's pixel touches another object (the pixels taken out of
    /// the target), 0 elsewhere.
    /// </summary>
    public static (byte[] Target, int[] Objects, byte[] Border) FromWithBorder(GrayImage mask)
    {
        ArgumentNullException.ThrowIfNull(mask);
        var (width, height, ids) = (mask.Width, mask.Height, mask.Values);
        var target = new byte[ids.Length];
        var objects = new int[ids.Length];
        var border = new byte[ids.Length];
        for (var i = 0; i < ids.Length; i++)
        {
            int id = ids[i];
            if (id == 0)
            {
                continue;
            }

            if (Touches(ids, i, width, height, id))
            {
                border[i] = 1;
                continue;
            }

            target[i] = 1;
            objects[i] = id;
        }

        return (target, objects, border);
    }

    /// <summary>
    /// The three-class target of the common nuclei recipe: 0 = background, 1 = object interior (<paramref name="target"/>'s
    /// foreground), <see cref="BorderClass"/> = border between touching objects (<paramref name="border"/>).
    /// </summary>
    public static byte[] WithBorderClass(byte[] target, byte[] border)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(border);
        var classes = new byte[target.Length];
        for (var i = 0; i < classes.Length; i++)
        {
            classes[i] = border[i] != 0 ? BorderClass : target[i];
        }

        return classes;
    }

    /// <summary>
    /// Object labels from a predicted three-class map (0 background, 1 interior, <see cref="BorderClass"/> border): the
    /// 4-connected components of the interior, each then grown into the border pixels it reaches (breadth first, one
    /// pixel ring at a time, so a border pixel between two objects goes to the nearer one). Border pixels that touch no
    /// interior stay background. Returns one label per pixel (0 = background, 1..count) and the number of objects.
    /// </summary>
    public static int[] ObjectsFromBorderClass(ReadOnlySpan<byte> classes, int width, int height, out int count)
    {
        var interior = new byte[classes.Length];
        for (var i = 0; i < classes.Length; i++)
        {
            interior[i] = classes[i] == 1 ? (byte)1 : (byte)0;
        }

        var labels = ConnectedComponents.Label(interior, width, height, out count);
        var frontier = new Queue<int>();
        for (var i = 0; i < labels.Length; i++)
        {
            if (labels[i] != 0)
            {
                frontier.Enqueue(i);
            }
        }

        while (frontier.TryDequeue(out var i))
        {
            var (x, y) = (i % width, i / width);
            foreach (var n in (ReadOnlySpan<int>)[x > 0 ? i - 1 : -1, x < width - 1 ? i + 1 : -1, y > 0 ? i - width : -1, y < height - 1 ? i + width : -1])
            {
                if (n >= 0 && labels[n] == 0 && classes[n] == BorderClass)
                {
                    labels[n] = labels[i];
                    frontier.Enqueue(n);
                }
            }
        }

        return labels;
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
