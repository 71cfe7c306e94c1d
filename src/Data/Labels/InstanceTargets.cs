using UNetCluster.Data.Imaging;

namespace UNetCluster.Data.Labels;

/// <summary>Which object pixels a border class holds (<c>--border-kind</c>).</summary>
public enum BorderKind
{
    /// <summary>Only where an object touches another object: the border that separates touching objects.</summary>
    Touching,

    /// <summary>
    /// Every object's outline: where it touches another object or the background (the three-class recipe of Caicedo
    /// et al. 2019 on BBBC038). A common class, so a model learns it, and the interior dips wherever two objects meet.
    /// </summary>
    Outline,

    /// <summary>
    /// Everything of an object but its core: the interior is each object's core, the pixels whose distance to the
    /// object's edge is at least <see cref="InstanceTargets.CoreFraction"/> of the object's largest such distance, and
    /// the rest of the object is border. The cores of touching objects lie apart by about their radius whatever their
    /// size, so the interior probability dips between them (seeds of the eroded masks, as several DSB 2018 entries used).
    /// </summary>
    Core,
}

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
    /// The border of the three-class target: <paramref name="border"/> (the 1 px contacts of <see cref="FromWithBorder"/>),
    /// for <see cref="BorderKind.Outline"/> with every object pixel that touches the background (4-neighbourhood; the
    /// image's edge is not an outline), then <see cref="WidenBorder"/> to <paramref name="borderWidth"/> pixels. Returns
    /// the interior left and the border; the inputs are not changed.
    /// </summary>
    public static (byte[] Target, byte[] Border) Border(byte[] target, byte[] border, int width, int height, BorderKind kind, int borderWidth)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(border);
        if (kind == BorderKind.Touching)
        {
            return WidenBorder(target, border, width, height, borderWidth);
        }

        var (interior, outline) = ((byte[])target.Clone(), (byte[])border.Clone());
        bool Background(int n) => target[n] == 0 && border[n] == 0;
        for (var i = 0; i < target.Length; i++)
        {
            var (x, y) = (i % width, i / width);
            if (target[i] != 0 && ((x > 0 && Background(i - 1)) || (x < width - 1 && Background(i + 1)) || (y > 0 && Background(i - width)) || (y < height - 1 && Background(i + width))))
            {
                interior[i] = 0;
                outline[i] = 1;
            }
        }

        return WidenBorder(interior, outline, width, height, borderWidth);
    }

    /// <summary>The share of an object's largest distance to its edge from which its pixels are its core (<see cref="BorderKind.Core"/>).</summary>
    public const double CoreFraction = 0.5;

    /// <summary>
    /// The border of <see cref="BorderKind.Core"/>: each object's pixels of <paramref name="target"/> (the objects with
    /// their contacts taken out; <paramref name="instances"/> their ids) whose Euclidean distance to the nearest pixel
    /// outside the target (background or a contact of <paramref name="border"/>; the image's edge is not an edge of the
    /// object) is below <see cref="CoreFraction"/> of the object's largest distance become border, with the contacts;
    /// the cores stay interior. Returns the interior and the border; the inputs are not changed.
    /// </summary>
    public static (byte[] Target, byte[] Border) Core(byte[] target, byte[] border, int[] instances, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(border);
        ArgumentNullException.ThrowIfNull(instances);
        if (target.Length != (long)width * height || border.Length != target.Length || instances.Length != target.Length)
        {
            throw new ArgumentException($"Expected {(long)width * height} target, border and instance values for {width}x{height}, got {target.Length}, {border.Length} and {instances.Length}.");
        }

        var squared = new int[target.Length];
        for (var i = 0; i < squared.Length; i++)
        {
            squared[i] = target[i] != 0 ? WeightMaps.SquaredDistanceTransform.Infinity : 0;
        }

        new WeightMaps.SquaredDistanceTransform(Math.Max(width, height)).TransformGrid(squared, width, height);
        var largest = new Dictionary<int, int>();
        for (var i = 0; i < squared.Length; i++)
        {
            if (target[i] != 0)
            {
                largest[instances[i]] = Math.Max(largest.GetValueOrDefault(instances[i]), squared[i]);
            }
        }

        var (interior, outside) = ((byte[])target.Clone(), (byte[])border.Clone());
        for (var i = 0; i < squared.Length; i++)
        {
            // An object with no edge in the image (it fills it) has an infinite distance everywhere: all core.
            if (target[i] != 0 && squared[i] != WeightMaps.SquaredDistanceTransform.Infinity
                && squared[i] < CoreFraction * CoreFraction * largest[instances[i]])
            {
                interior[i] = 0;
                outside[i] = 1;
            }
        }

        return (interior, outside);
    }

    /// <summary>The widest border <see cref="WidenBorder"/> accepts, in pixels on each side of a contact.</summary>
    public const int MaxBorderWidth = 8;

    /// <summary>
    /// A border <paramref name="borderWidth"/> pixels wide on each side of a contact: <paramref name="border"/> (the
    /// object pixels that touch another object, 1 px) grown <paramref name="borderWidth"/> − 1 steps into the objects
    /// (4-neighbourhood, so a pixel joins the border when its city-block distance to it is below the width), and
    /// those pixels taken out of <paramref name="target"/>'s foreground. A border pixel's 4-neighbours in the
    /// foreground belong to its own object, so each object's border grows into that object only. Width 1 returns
    /// copies of the inputs. The DSB 2018 winners trained a border of 2-3 px: a 1 px class is too rare to be predicted.
    /// </summary>
    public static (byte[] Target, byte[] Border) WidenBorder(byte[] target, byte[] border, int width, int height, int borderWidth)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(border);
        ArgumentOutOfRangeException.ThrowIfLessThan(borderWidth, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(borderWidth, MaxBorderWidth);
        var (foreground, wide) = ((byte[])target.Clone(), (byte[])border.Clone());
        var ring = new List<int>();
        for (var i = 0; i < wide.Length; i++)
        {
            if (wide[i] != 0)
            {
                ring.Add(i);
            }
        }

        for (var step = 1; step < borderWidth && ring.Count > 0; step++)
        {
            var next = new List<int>();
            foreach (var i in ring)
            {
                foreach (var n in ConnectedComponents.Neighbours(i, width, height))
                {
                    if (n >= 0 && foreground[n] != 0)
                    {
                        foreground[n] = 0;
                        wide[n] = 1;
                        next.Add(n);
                    }
                }
            }

            ring = next;
        }

        return (foreground, wide);
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
    /// Object labels from a three-class model's probabilities by seeded growth, a watershed on the interior probability:
    /// the foreground is every pixel whose background probability is at most 0.5; the seeds are the 4-connected
    /// components of the foreground pixels whose interior probability is at least <paramref name="seedThreshold"/>,
    /// each split where the interior probability holds two or more distinct peaks or the seed's shape two round parts
    /// joined by a neck (<see cref="SeedSplitting"/>); each seed then grows over the foreground, the most interior-like pixel first (a priority flood), so two objects
    /// that touch without a predicted border stay apart wherever the interior probability dips between them. A
    /// foreground component that holds no seed is an object of its own. Returns one label per pixel (0 = background,
    /// 1..count) and the number of objects.
    /// </summary>
    /// <param name="background">Class 0's probability per pixel, row-major.</param>
    /// <param name="interior">Class 1's (the interior's) probability per pixel.</param>
    /// <param name="seedThreshold">The interior probability from which a pixel seeds an object; 0.5 and above takes
    /// seeds only where the interior is the most probable class. Calibrated on validation sections while training.</param>
    public static int[] ObjectsFromBorderProbabilities(ReadOnlySpan<float> background, ReadOnlySpan<float> interior, int width, int height, double seedThreshold, out int count)
    {
        if (background.Length != (long)width * height || interior.Length != background.Length)
        {
            throw new ArgumentException($"Expected {(long)width * height} probabilities per class for {width}x{height}, got {background.Length} and {interior.Length}.");
        }

        var foreground = new byte[background.Length];
        var seeds = new byte[background.Length];
        for (var i = 0; i < foreground.Length; i++)
        {
            foreground[i] = background[i] <= 0.5f ? (byte)1 : (byte)0;
            seeds[i] = foreground[i] != 0 && interior[i] >= seedThreshold ? (byte)1 : (byte)0;
        }

        return Grow(seeds, foreground, interior.ToArray(), width, height, seedThreshold, out count);
    }

    /// <summary>
    /// Object labels from a two-class model trained on instance masks: the objects of <paramref name="mask"/> (its
    /// foreground probability at or above <paramref name="threshold"/>), each 4-connected component split where the
    /// <paramref name="probability"/> holds two or more distinct peaks or its shape two round parts joined by a neck
    /// (<see cref="SeedSplitting"/>) and grown back over the mask, the most probable pixel first; a convex component
    /// with a single peak stays whole. The labels' foreground is the
    /// mask's. Touching objects whose separating border the model predicts only faintly (a dip of the probability that
    /// stays above the threshold) come apart, as with <see cref="ObjectsFromBorderProbabilities"/>.
    /// </summary>
    /// <param name="mask">1 = foreground, 0 = background, row-major.</param>
    /// <param name="probability">The foreground probability per pixel.</param>
    /// <param name="threshold">The decision threshold the mask was made with.</param>
    /// <param name="components">The mask's 4-connected components (<see cref="ConnectedComponents.Label"/>), when the
    /// caller has them already (the threshold sweep scores Rand error on them); null: labelled here.</param>
    public static int[] ObjectsFromMask(
        byte[] mask, ReadOnlySpan<float> probability, int width, int height, double threshold, out int count, ConnectedComponents? components = null)
    {
        ArgumentNullException.ThrowIfNull(mask);
        if (mask.Length != (long)width * height || probability.Length != mask.Length)
        {
            throw new ArgumentException($"Expected {(long)width * height} mask values and probabilities for {width}x{height}, got {mask.Length} and {probability.Length}.");
        }

        if (components is not null && components.Labels.Length != mask.Length)
        {
            throw new ArgumentException($"The components have {components.Labels.Length} labels, the mask {mask.Length} values.", nameof(components));
        }

        return Grow(mask, mask, probability.ToArray(), width, height, threshold, out count, components);
    }

    // The seeds' components, split at distinct peaks and necks, grown over the foreground by a priority flood on the interior
    // probability; foreground no seed reaches becomes objects of its own.
    private static int[] Grow(
        byte[] seeds, byte[] foreground, float[] interior, int width, int height, double seedThreshold, out int count, ConnectedComponents? seedComponents = null)
    {
        int[] labels;
        if (seedComponents is null)
        {
            labels = ConnectedComponents.Label(seeds, width, height, out count);
        }
        else
        {
            (labels, count) = (seedComponents.Labels, seedComponents.Count);
        }

        labels = SeedSplitting.Split(labels, count, interior, width, height, seedThreshold, out count);
        // Equal probabilities (a plateau, or the byte maps of predict) go first in first out, so seeds grow into a
        // plateau evenly and meet halfway instead of one of them running around the other.
        var flood = new PriorityQueue<int, (float, int)>();
        var order = 0;
        for (var i = 0; i < labels.Length; i++)
        {
            if (labels[i] != 0)
            {
                flood.Enqueue(i, (-interior[i], order++));
            }
        }

        while (flood.TryDequeue(out var i, out _))
        {
            foreach (var n in ConnectedComponents.Neighbours(i, width, height))
            {
                if (n >= 0 && labels[n] == 0 && foreground[n] != 0)
                {
                    labels[n] = labels[i];
                    flood.Enqueue(n, (-interior[n], order++));
                }
            }
        }

        // What no seed reached is foreground unconnected to any seed: each of its components is an object.
        var unreached = new byte[foreground.Length];
        for (var i = 0; i < foreground.Length; i++)
        {
            unreached[i] = foreground[i] != 0 && labels[i] == 0 ? (byte)1 : (byte)0;
        }

        var rest = ConnectedComponents.Label(unreached, width, height, out var unseeded);
        for (var i = 0; i < rest.Length; i++)
        {
            if (rest[i] != 0)
            {
                labels[i] = count + rest[i];
            }
        }

        count += unseeded;
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
