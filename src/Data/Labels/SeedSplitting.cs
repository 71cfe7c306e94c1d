using UNetCluster.Data.WeightMaps;

namespace UNetCluster.Data.Labels;

/// <summary>
/// Splits the seeds of <see cref="InstanceTargets.ObjectsFromBorderProbabilities"/> (and the mask components of
/// <see cref="InstanceTargets.ObjectsFromMask"/>) that hold two touching objects, first by the probability, then by
/// the shape.
/// <para>
/// By the probability: touching nuclei whose contact the model does not mark as border still show a saddle in the
/// interior probability, often above the seed threshold, so one seed would cover both and the flood would merge them.
/// Each seed (a component at the seed threshold) is cut at rising levels (every <see cref="Step"/> above the seed
/// threshold); where it falls apart into two or more parts that each rise at least <see cref="Depth"/> above the cut and
/// hold at least a fifth of the image's median seed area, each such part becomes a seed of its own (and is cut further
/// in turn); parts too small or too shallow are left to the flood. The depth keeps texture inside one nucleus from
/// splitting it.
/// </para>
/// <para>
/// By the shape: a blurred pair can hold one smooth probability plateau, yet its seed is two round blobs joined by a
/// neck. Each seed left whole is cut the same way on its distance to the seed's edge (the Euclidean distance transform,
/// divided by the seed's largest distance so the rule does not depend on size): parts whose distance rises at least
/// <see cref="ShapeDepth"/> above the neck and hold the same smallest area become seeds of their own. A convex seed,
/// round or elongated, has one distance peak and stays whole.
/// </para>
/// The areas are relative so the rules do not depend on magnification.
/// </summary>
/// <remarks>
/// Measured on the nuclei split of bench/README.md (12 held-out images, 389 nuclei; probability maps of three trained
/// checkpoints, seed threshold 0.5, objects under 32 px dropped): splitting by the probability took nuclei merged
/// 45 -> 20, 48 -> 23 and 103 -> 44, object F1@0.5 0.905 -> 0.933, 0.907 -> 0.931 and 0.814 -> 0.906, at most 4 nuclei
/// split. On the maps of two later checkpoints (best and last of each), splitting by the shape as well took merged
/// 18 -> 10, 27 -> 14, 22 -> 16 and 31 -> 18 with split nuclei unchanged within one and F1@0.5 up 0.005-0.009; shape
/// depths 0.2-0.4 gave the same within 4 merged, and the depth was taken from the middle of that plateau. On a third
/// run's checkpoints, not looked at while choosing: merged 30 -> 18 and 24 -> 16, F1@0.5 0.939 -> 0.947 and 0.938 -> 0.946.
/// </remarks>
internal static class SeedSplitting
{
    /// <summary>How far above a cut each part's peak probability must rise to count as a peak of its own.</summary>
    public const double Depth = 0.1;

    /// <summary>
    /// How far above a cut each part's peak distance to the seed's edge must rise, as a fraction of the seed's largest
    /// distance, to count as an object of its own.
    /// </summary>
    public const double ShapeDepth = 0.3;

    /// <summary>The spacing of the cut levels.</summary>
    public const double Step = 0.05;

    /// <summary>A part's smallest area as a fraction of the median area of the image's seeds (of at least 16 pixels).</summary>
    public const double AreaFraction = 0.2;

    /// <summary>The smallest area a part may have, whatever the median: below it, noise.</summary>
    public const int MinimumArea = 8;

    /// <summary>
    /// The split seeds: <paramref name="labels"/> (components 1..<paramref name="count"/> of the pixels at or above
    /// <paramref name="seedThreshold"/>) relabelled 1..the returned count, each pixel of a seed that was split going to
    /// the part it lies in or to none (background, left for the flood).
    /// </summary>
    public static int[] Split(int[] labels, int count, float[] interior, int width, int height, double seedThreshold, out int splitCount)
    {
        var components = Regions(labels, count);
        var byProbability = new Splitter(interior, width, height, Levels(seedThreshold), Depth, SmallestPart(components));
        foreach (var component in components)
        {
            byProbability.Split(component, 0);
        }

        var seeds = Regions(byProbability.Seeds, byProbability.Count);
        var distance = new float[interior.Length];
        var byShape = new Splitter(distance, width, height, Levels(0), ShapeDepth, SmallestPart(seeds));
        var transform = new SquaredDistanceTransform(Math.Max(width, height) + 2);
        foreach (var seed in seeds)
        {
            DistanceToEdge(seed, distance, width, transform);
            byShape.Split(seed, 0);
        }

        splitCount = byShape.Count;
        return byShape.Seeds;
    }

    // The pixel indices of each label 1..count.
    private static List<List<int>> Regions(int[] labels, int count)
    {
        var regions = new List<int>[count + 1];
        for (var i = 0; i < labels.Length; i++)
        {
            if (labels[i] != 0)
            {
                (regions[labels[i]] ??= []).Add(i);
            }
        }

        return [.. regions.Skip(1).OfType<List<int>>()];
    }

    // A fifth of the median area of the regions of at least 16 pixels, and never below MinimumArea.
    private static double SmallestPart(List<List<int>> regions)
    {
        var areas = regions.Select(r => r.Count).Where(a => a >= 16).Order().ToArray();
        var median = areas.Length == 0 ? 16.0 : areas.Length % 2 == 1
            ? areas[areas.Length / 2]
            : (areas[(areas.Length / 2) - 1] + areas[areas.Length / 2]) / 2.0;
        return Math.Max(MinimumArea, AreaFraction * median);
    }

    private static double[] Levels(double bottom)
    {
        var levels = new List<double>();
        for (var k = 1; bottom + (k * Step) < 1 - 1e-9; k++)
        {
            levels.Add(bottom + (k * Step));
        }

        return [.. levels];
    }

    // Writes each region pixel's Euclidean distance to the nearest pixel outside the region (the image's outside
    // counts as outside), divided by the region's largest such distance, into distance.
    private static void DistanceToEdge(List<int> region, float[] distance, int width, SquaredDistanceTransform transform)
    {
        var (left, top, right, bottom) = (int.MaxValue, int.MaxValue, -1, -1);
        foreach (var i in region)
        {
            var (x, y) = (i % width, i / width);
            (left, top, right, bottom) = (Math.Min(left, x), Math.Min(top, y), Math.Max(right, x), Math.Max(bottom, y));
        }

        // The bounding box with a margin of one outside pixel all round, so every row and column holds a source.
        var (w, h) = (right - left + 3, bottom - top + 3);
        int Cell(int i) => (((i / width) - top + 1) * w) + (i % width) - left + 1;
        var squared = new int[w * h];
        foreach (var i in region)
        {
            squared[Cell(i)] = SquaredDistanceTransform.Infinity;
        }

        transform.TransformGrid(squared, w, h);
        var largest = 1;
        foreach (var i in region)
        {
            largest = Math.Max(largest, squared[Cell(i)]);
        }

        var scale = 1 / Math.Sqrt(largest);
        foreach (var i in region)
        {
            distance[i] = (float)(Math.Sqrt(squared[Cell(i)]) * scale);
        }
    }

    // Cuts regions at rising levels of a per-pixel value; see the class summary.
    private sealed class Splitter(float[] values, int width, int height, double[] levels, double depth, double minimumArea)
    {
        private readonly int[] stamp = new int[values.Length];
        private int generation;

        public int[] Seeds { get; } = new int[values.Length];

        public int Count { get; private set; }

        public void Split(List<int> region, int level)
        {
            for (var j = level; j < levels.Length; j++)
            {
                var parts = Parts(region, levels[j]);
                if (parts.Count == 0)
                {
                    break;
                }

                var peaks = parts.Where(p => p.Pixels.Count >= minimumArea && p.Peak - levels[j] >= depth - 1e-6).ToList();
                if (peaks.Count >= 2)
                {
                    foreach (var part in peaks)
                    {
                        Split(part.Pixels, j + 1);
                    }

                    return;
                }
            }

            Count++;
            foreach (var i in region)
            {
                Seeds[i] = Count;
            }
        }

        // The 4-connected components of the region's pixels at or above the level, each with its highest value.
        private List<(List<int> Pixels, float Peak)> Parts(List<int> region, double level)
        {
            var member = ++generation;
            foreach (var i in region)
            {
                if (values[i] >= level)
                {
                    stamp[i] = member;
                }
            }

            var parts = new List<(List<int>, float)>();
            var queue = new Queue<int>();
            foreach (var start in region)
            {
                if (stamp[start] != member)
                {
                    continue;
                }

                var pixels = new List<int>();
                var peak = 0f;
                stamp[start] = 0;
                queue.Enqueue(start);
                while (queue.TryDequeue(out var i))
                {
                    pixels.Add(i);
                    peak = Math.Max(peak, values[i]);
                    foreach (var n in ConnectedComponents.Neighbours(i, width, height))
                    {
                        if (n >= 0 && stamp[n] == member)
                        {
                            stamp[n] = 0;
                            queue.Enqueue(n);
                        }
                    }
                }

                parts.Add((pixels, peak));
            }

            return parts;
        }
    }
}
