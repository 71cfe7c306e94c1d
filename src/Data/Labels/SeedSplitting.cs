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
/// <see cref="ShapeDepth"/> above the neck become seeds of their own if they hold the same smallest area times
/// (1 - L)^2 for a cut at distance level L: what a round seed keeps above that level, so the tops of two large lobes
/// joined by a wide neck are judged against the tops of single nuclei, not their whole areas. A seed's holes (pixels it
/// encloses that no seed holds, such as a nucleolus the model calls background) count as the seed for its shape and are
/// left to the flood afterwards, so a hole does not put necks between itself and the outline. A convex seed, round or
/// elongated, has one distance peak and stays whole.
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
/// The shape split's area scaled by (1 - L)^2 and the holes filled (2026-12-03, sixth session; the probability maps of
/// predict, objects under 32 px dropped): on the second split of bench/README.md (259 nuclei) merged 57 -> 50 and
/// 55 -> 47, F1@0.5 0.818 -> 0.828 and 0.812 -> 0.822 (a 32-channel run's best and last); on the first split merged
/// 8 -> 8, split 7 -> 5, F1@0.5 0.934 -> 0.937. The scaled area alone split 9 more nuclei on the first split, each
/// around a hole; filling the holes took those back.
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
        var smallest = SmallestPart(components);
        var byProbability = new Splitter(interior, width, height, Levels(seedThreshold), Depth, _ => smallest);
        foreach (var component in components)
        {
            byProbability.Split(component, 0);
        }

        var seeds = Regions(byProbability.Seeds, byProbability.Count);
        var distance = new float[interior.Length];
        // A part cut at distance level L holds about (1 - L)^2 of what a round seed would hold there, so the smallest
        // part shrinks the same way: the tops of two large lobes joined by a neck at L = 0.65 count as parts.
        var smallestSeed = SmallestPart(seeds);
        var byShape = new Splitter(distance, width, height, Levels(0), ShapeDepth, level => Math.Max(MinimumArea, smallestSeed * (1 - level) * (1 - level)));
        var transform = new SquaredDistanceTransform(Math.Max(width, height) + 2);
        foreach (var seed in seeds)
        {
            byShape.Split(FilledDistanceToEdge(seed, byProbability.Seeds, distance, width, transform), 0);
        }

        // The holes were cut with their seeds but are no seed's pixels: the flood decides them. A part of hole
        // pixels only leaves no seed, so the seeds are numbered again.
        var result = byShape.Seeds;
        var renumbered = new int[byShape.Count + 1];
        splitCount = 0;
        for (var i = 0; i < result.Length; i++)
        {
            if (byProbability.Seeds[i] == 0)
            {
                result[i] = 0;
            }
            else if (result[i] != 0)
            {
                result[i] = renumbered[result[i]] is var n and > 0 ? n : renumbered[result[i]] = ++splitCount;
            }
        }

        return result;
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

    // The region with its holes (the pixels it encloses that belong to no seed of seeds; 4-connected to no pixel
    // outside its bounding box through pixels outside it), and each of their Euclidean distances to the nearest pixel
    // outside (the image's outside counts as outside), divided by the largest such distance, written into distance.
    // A seed's shape is its outline: a hole (a nucleolus the model calls background) would otherwise put a neck
    // between itself and the outline and split one nucleus in two.
    private static List<int> FilledDistanceToEdge(List<int> region, int[] seeds, float[] distance, int width, SquaredDistanceTransform transform)
    {
        var (left, top, right, bottom) = (int.MaxValue, int.MaxValue, -1, -1);
        foreach (var i in region)
        {
            var (x, y) = (i % width, i / width);
            (left, top, right, bottom) = (Math.Min(left, x), Math.Min(top, y), Math.Max(right, x), Math.Max(bottom, y));
        }

        // The bounding box with a margin of one outside pixel all round, so every row and column holds a source and
        // every outside pixel that is not a hole is reached from the corner.
        var (w, h) = (right - left + 3, bottom - top + 3);
        int Cell(int i) => (((i / width) - top + 1) * w) + (i % width) - left + 1;
        int Pixel(int c) => (((c / w) + top - 1) * width) + (c % w) + left - 1;
        const int Outside = -1;
        var squared = new int[w * h];
        foreach (var i in region)
        {
            squared[Cell(i)] = SquaredDistanceTransform.Infinity;
        }

        squared[0] = Outside;
        var queue = new Queue<int>([0]);
        while (queue.TryDequeue(out var c))
        {
            foreach (var n in ConnectedComponents.Neighbours(c, w, h))
            {
                if (n >= 0 && squared[n] == 0)
                {
                    squared[n] = Outside;
                    queue.Enqueue(n);
                }
            }
        }

        var filled = new List<int>(region);
        for (var c = 0; c < squared.Length; c++)
        {
            if (squared[c] == Outside)
            {
                squared[c] = 0;
            }
            else if (squared[c] == 0 && seeds[Pixel(c)] == 0)
            {
                squared[c] = SquaredDistanceTransform.Infinity;
                filled.Add(Pixel(c));
            }
        }

        transform.TransformGrid(squared, w, h);
        var largest = 1;
        foreach (var i in filled)
        {
            largest = Math.Max(largest, squared[Cell(i)]);
        }

        var scale = 1 / Math.Sqrt(largest);
        foreach (var i in filled)
        {
            distance[i] = (float)(Math.Sqrt(squared[Cell(i)]) * scale);
        }

        return filled;
    }

    // Cuts regions at rising levels of a per-pixel value; see the class summary.
    private sealed class Splitter(float[] values, int width, int height, double[] levels, double depth, Func<double, double> minimumArea)
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

                var peaks = parts.Where(p => p.Pixels.Count >= minimumArea(levels[j]) && p.Peak - levels[j] >= depth - 1e-6).ToList();
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
