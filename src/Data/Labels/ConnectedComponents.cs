namespace UNetCluster.Data.Labels;

/// <summary>
/// The connected components of a binary mask's foreground with their bounding boxes: the objects of the weight map
/// and of the Rand error.
/// </summary>
/// <remarks>
/// Connectivity is 4-connectivity: a pixel touches the pixels above, below, left and right of it, not the diagonal
/// ones. Two cells of an ISBI 2012 mask that meet only at a corner, across a one-pixel diagonal membrane, therefore
/// stay two objects. Any non-zero byte is foreground, so masks holding 0/1 and masks holding 0/255 label the same.
/// </remarks>
public sealed class ConnectedComponents
{
    private ConnectedComponents(int[] labels, int count, Box[] boxes)
    {
        Labels = labels;
        Count = count;
        Boxes = boxes;
    }

    /// <summary>One label per pixel: 0 for background, 1..<see cref="Count"/> for the objects.</summary>
    public int[] Labels { get; }

    public int Count { get; }

    /// <summary>The bounding box of object k at index k − 1.</summary>
    public Box[] Boxes { get; }

    /// <summary>
    /// Returns one label per pixel (row-major, index <c>y * width + x</c>): 0 for background, 1..<paramref name="count"/>
    /// for the foreground components, numbered in the raster order of their first pixel.
    /// </summary>
    public static int[] Label(ReadOnlySpan<byte> mask, int width, int height, out int count)
    {
        var components = Find(mask, width, height);
        count = components.Count;
        return components.Labels;
    }

    /// <summary>Labels the components of a (width x height) mask and records their bounding boxes.</summary>
    public static ConnectedComponents Find(ReadOnlySpan<byte> mask, int width, int height)
    {
        if (width <= 0 || height <= 0 || (long)width * height != mask.Length)
        {
            throw new ArgumentException(
                $"The mask has {mask.Length} values, which is not {width} x {height}.", nameof(mask));
        }

        var labels = new int[mask.Length];
        var queue = new int[mask.Length];
        var boxes = new List<Box>();
        for (var start = 0; start < mask.Length; start++)
        {
            if (mask[start] == 0 || labels[start] != 0)
            {
                continue;
            }

            var label = boxes.Count + 1;
            int minX = int.MaxValue, minY = int.MaxValue, maxX = -1, maxY = -1;
            labels[start] = label;
            var head = 0;
            var tail = 0;
            queue[tail++] = start;
            while (head < tail)
            {
                var index = queue[head++];
                var x = index % width;
                var y = index / width;
                minX = Math.Min(minX, x);
                maxX = Math.Max(maxX, x);
                minY = Math.Min(minY, y);
                maxY = Math.Max(maxY, y);
                if (x > 0 && mask[index - 1] != 0 && labels[index - 1] == 0)
                {
                    labels[index - 1] = label;
                    queue[tail++] = index - 1;
                }

                if (x < width - 1 && mask[index + 1] != 0 && labels[index + 1] == 0)
                {
                    labels[index + 1] = label;
                    queue[tail++] = index + 1;
                }

                if (index >= width && mask[index - width] != 0 && labels[index - width] == 0)
                {
                    labels[index - width] = label;
                    queue[tail++] = index - width;
                }

                if (index + width < mask.Length && mask[index + width] != 0 && labels[index + width] == 0)
                {
                    labels[index + width] = label;
                    queue[tail++] = index + width;
                }
            }

            boxes.Add(new Box(minX, minY, maxX, maxY));
        }

        return new ConnectedComponents(labels, boxes.Count, [.. boxes]);
    }

    /// <summary>
    /// The objects that <paramref name="ids"/> names (one id per pixel, 0 for background; any other value an object,
    /// whether or not its pixels are connected), numbered 1..<see cref="Count"/> in the raster order of their first
    /// pixel, with their bounding boxes: the objects of an instance mask.
    /// </summary>
    public static ConnectedComponents FromIds(ReadOnlySpan<int> ids, int width, int height)
    {
        if (width <= 0 || height <= 0 || (long)width * height != ids.Length)
        {
            throw new ArgumentException($"The labels have {ids.Length} values, which is not {width} x {height}.", nameof(ids));
        }

        var labels = new int[ids.Length];
        var numbering = new Dictionary<int, int>();
        var boxes = new List<Box>();
        for (var i = 0; i < ids.Length; i++)
        {
            if (ids[i] == 0)
            {
                continue;
            }

            var (x, y) = (i % width, i / width);
            if (!numbering.TryGetValue(ids[i], out var label))
            {
                label = numbering[ids[i]] = boxes.Count + 1;
                boxes.Add(new Box(x, y, x, y));
            }

            var box = boxes[label - 1];
            boxes[label - 1] = new Box(Math.Min(box.MinX, x), Math.Min(box.MinY, y), Math.Max(box.MaxX, x), Math.Max(box.MaxY, y));
            labels[i] = label;
        }

        return new ConnectedComponents(labels, boxes.Count, [.. boxes]);
    }

    /// <summary>
    /// <paramref name="labels"/> (0 = background, 1..<paramref name="count"/>) without the objects of fewer than
    /// <paramref name="minPixels"/> pixels, which become background; the others are renumbered 1..count in their order.
    /// Returns new labels and sets <paramref name="count"/> to the objects kept.
    /// </summary>
    public static int[] WithoutSmall(ReadOnlySpan<int> labels, ref int count, int minPixels)
    {
        var area = new int[count + 1];
        foreach (var l in labels)
        {
            area[l]++;
        }

        var renumbered = new int[count + 1];
        var kept = 0;
        for (var l = 1; l <= count; l++)
        {
            renumbered[l] = area[l] >= minPixels ? ++kept : 0;
        }

        var result = new int[labels.Length];
        for (var i = 0; i < labels.Length; i++)
        {
            result[i] = renumbered[labels[i]];
        }

        count = kept;
        return result;
    }

    /// <summary>
    /// The 4-connected components of equal non-zero values of <paramref name="keys"/> (0 = background): the objects of a
    /// colour-coded instance mask, where touching objects have different colours. Returns one label per pixel (0 for
    /// background, 1..<paramref name="count"/> in the raster order of their first pixel).
    /// </summary>
    public static int[] LabelEqual(ReadOnlySpan<int> keys, int width, int height, out int count)
    {
        if (width <= 0 || height <= 0 || (long)width * height != keys.Length)
        {
            throw new ArgumentException($"The keys have {keys.Length} values, which is not {width} x {height}.", nameof(keys));
        }

        var labels = new int[keys.Length];
        var queue = new int[keys.Length];
        count = 0;
        for (var start = 0; start < keys.Length; start++)
        {
            if (keys[start] == 0 || labels[start] != 0)
            {
                continue;
            }

            var (label, key) = (++count, keys[start]);
            labels[start] = label;
            var (head, tail) = (0, 0);
            queue[tail++] = start;
            while (head < tail)
            {
                var index = queue[head++];
                foreach (var n in Neighbours(index, width, height))
                {
                    if (n >= 0 && keys[n] == key && labels[n] == 0)
                    {
                        labels[n] = label;
                        queue[tail++] = n;
                    }
                }
            }
        }

        return labels;
    }

    /// <summary>
    /// The 4-neighbours of pixel <paramref name="index"/> of a (width x height) image, row-major: left, right, above
    /// and below, each -1 where the image ends.
    /// </summary>
    public static FourNeighbours Neighbours(int index, int width, int height)
    {
        var (x, y) = (index % width, index / width);
        var neighbours = default(FourNeighbours);
        neighbours[0] = x > 0 ? index - 1 : -1;
        neighbours[1] = x < width - 1 ? index + 1 : -1;
        neighbours[2] = y > 0 ? index - width : -1;
        neighbours[3] = y < height - 1 ? index + width : -1;
        return neighbours;
    }

    /// <summary>An inclusive pixel rectangle.</summary>
    public readonly record struct Box(int MinX, int MinY, int MaxX, int MaxY);

    /// <summary>Four pixel indices (<see cref="Neighbours"/>), -1 for none.</summary>
    [System.Runtime.CompilerServices.InlineArray(4)]
    public struct FourNeighbours
    {
        private int _first;
    }
}
