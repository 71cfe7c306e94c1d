namespace UNetCluster.Model.Metrics;

/// <summary>
/// Labels the connected components of the foreground of a binary mask.
/// </summary>
/// <remarks>
/// Connectivity is 4-connectivity: a pixel touches the pixels above, below, left and right of it, not the diagonal
/// ones. Two cells of an ISBI 2012 mask that meet only at a corner, across a one-pixel diagonal membrane, therefore
/// stay two objects. Any non-zero byte is foreground, so masks holding 0/1 and masks holding 0/255 label the same.
/// </remarks>
public static class ConnectedComponents
{
    /// <summary>
    /// Returns one label per pixel (row-major, index <c>y * width + x</c>): 0 for background, 1..<paramref name="count"/>
    /// for the foreground components, numbered in the raster order of their first pixel.
    /// </summary>
    public static int[] Label(ReadOnlySpan<byte> mask, int width, int height, out int count)
    {
        MaskChecks.RequireSize(mask.Length, width, height, nameof(mask));

        var labels = new int[mask.Length];
        var queue = new int[mask.Length];
        count = 0;
        for (var start = 0; start < mask.Length; start++)
        {
            if (mask[start] == 0 || labels[start] != 0)
            {
                continue;
            }

            var label = ++count;
            labels[start] = label;
            var head = 0;
            var tail = 0;
            queue[tail++] = start;
            while (head < tail)
            {
                var index = queue[head++];
                var x = index % width;
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
        }

        return labels;
    }
}
