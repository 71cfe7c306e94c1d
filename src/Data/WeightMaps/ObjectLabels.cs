namespace UNetCluster.Data.WeightMaps;

/// <summary>
/// The 4-connected components of a mask's foreground with their bounding boxes. This is the same labelling as
/// <c>UNetCluster.Model.Metrics.ConnectedComponents</c>; the Data library does not reference the Model library
/// (see DESIGN.md), so the few lines are repeated here rather than shared.
/// </summary>
internal sealed class ObjectLabels
{
    private ObjectLabels(int[] labels, int count, Box[] boxes)
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

    public static ObjectLabels Find(ReadOnlySpan<byte> mask, int width)
    {
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

        return new ObjectLabels(labels, boxes.Count, [.. boxes]);
    }

    /// <summary>An inclusive pixel rectangle.</summary>
    internal readonly record struct Box(int MinX, int MinY, int MaxX, int MaxY);
}
