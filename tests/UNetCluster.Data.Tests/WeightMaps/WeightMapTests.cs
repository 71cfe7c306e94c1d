using UNetCluster.Data.WeightMaps;

namespace UNetCluster.Data.Tests.WeightMaps;

public sealed class WeightMapTests
{
    private const double Tolerance = 1e-5;

    [Fact]
    public void Compute_OnePixelGapBetweenTwoCells_BorderTermOfDistancesOneAndOne()
    {
        // 11x5: cells in columns 0-4 and 6-10, a one-pixel membrane in column 5. Each gap pixel is at distance 1
        // from both cells, so d1 + d2 = 2. Background is 5 of 55 pixels: w_c = 55 / (2·5) = 5.5.
        //   w = 5.5 + 10·exp(−2² / (2·5²)) = 5.5 + 10·exp(−0.08) = 14.7311635
        var mask = Build(11, 5, (x, _) => x != 5);

        var weights = WeightMap.Compute(mask, 11, 5);

        for (var y = 0; y < 5; y++)
        {
            Assert.Equal(5.5 + (10 * Math.Exp(-0.08)), weights[(y * 11) + 5], Tolerance);
        }
    }

    [Fact]
    public void Compute_ThreePixelGapWithoutBalancing_BorderTermFallsWithDistance()
    {
        // 13x1: cells in columns 0-4 and 8-12, gap columns 5, 6, 7. Unbalanced, w_c = 1.
        //   x = 5 or 7: d1 = 1, d2 = 3, w = 1 + 10·exp(−16/50);  x = 6: d1 = d2 = 2, the same sum, the same w.
        var mask = Build(13, 1, (x, _) => x < 5 || x > 7);

        var weights = WeightMap.Compute(mask, 13, 1, new WeightMapOptions(BalanceClasses: false));

        var expected = 1 + (10 * Math.Exp(-16.0 / 50));
        Assert.Equal(expected, weights[5], Tolerance);
        Assert.Equal(expected, weights[6], Tolerance);
        Assert.Equal(expected, weights[7], Tolerance);
        Assert.Equal(1f, weights[0]);
    }

    [Fact]
    public void Compute_SingleCell_NoBorderTerm()
    {
        // 8x8 with one 3x3 cell: only the class weights, 64 / (2·55) on background and 64 / (2·9) on the cell.
        var mask = Build(8, 8, (x, y) => x is >= 2 and <= 4 && y is >= 2 and <= 4);

        var weights = WeightMap.Compute(mask, 8, 8);

        for (var i = 0; i < mask.Length; i++)
        {
            Assert.Equal(mask[i] != 0 ? 64.0 / 18 : 64.0 / 110, weights[i], Tolerance);
        }
    }

    [Fact]
    public void Compute_FixedClassWeights_ReplaceTheBalanceUnderTheBorderTerm()
    {
        // The one-pixel gap of the first test with fixed weights 2 (background) and 3 (cells), whatever the class
        // frequencies: the cells weigh 3, the gap 2 + 10·exp(−0.08).
        var mask = Build(11, 5, (x, _) => x != 5);

        var weights = WeightMap.Compute(mask, 11, 5, new WeightMapOptions(BalanceClasses: false, ClassWeights: [2, 3]));

        for (var y = 0; y < 5; y++)
        {
            Assert.Equal(2 + (10 * Math.Exp(-0.08)), weights[(y * 11) + 5], Tolerance);
            Assert.Equal(3f, weights[y * 11]);
        }
    }

    [Fact]
    public void Compute_FixedClassWeightsTooFewOrWithTheBalance_IsRefused()
    {
        byte[] mask = [0, 1, 2, 0];

        var tooFew = Assert.Throws<ArgumentException>(() => WeightMap.Compute(mask, 4, 1, new WeightMapOptions(BalanceClasses: false, ClassWeights: [1, 1])));
        var withBalance = Assert.Throws<ArgumentOutOfRangeException>(() => WeightMap.Compute(mask, 4, 1, new WeightMapOptions(ClassWeights: [1, 1, 5])));

        Assert.Contains("holds class 2, but only 2 class weights were given", tooFew.Message, StringComparison.Ordinal);
        Assert.Contains("with BalanceClasses off", withBalance.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Compute_FarFromCells_TendsToClassWeight()
    {
        // 200x3: two cells touching a one-pixel gap at the left end, background to the right.
        var mask = Build(200, 3, (x, _) => x is (>= 0 and <= 4) or (>= 6 and <= 10));
        var backgroundWeight = 600.0 / (2 * (600 - 30));

        var weights = WeightMap.Compute(mask, 200, 3);

        // Along the middle row, away from the cells, the border term decays monotonically to nothing.
        var row = weights.AsSpan(200, 200);
        for (var x = 12; x < 199; x++)
        {
            Assert.True(row[x] >= row[x + 1], $"weight rises from x = {x} to {x + 1}");
        }

        Assert.True(row[11] - backgroundWeight > 1, "next to the cells the border term is large");
        Assert.Equal(backgroundWeight, row[199], 1e-6);
    }

    [Fact]
    public void Compute_ForegroundPixels_CarryOnlyClassWeight()
    {
        var mask = Build(11, 5, (x, _) => x != 5);

        var weights = WeightMap.Compute(mask, 11, 5);

        // 50 of 55 pixels are foreground: w_c = 55 / (2·50) = 0.55, even right next to the gap.
        for (var i = 0; i < mask.Length; i++)
        {
            if (mask[i] != 0)
            {
                Assert.Equal(0.55, weights[i], Tolerance);
            }
        }
    }

    [Fact]
    public void Compute_BalancedClasses_EachClassCarriesHalfTheWeight()
    {
        // One object, so w = w_c: each class sums to total / 2 and the mean weight is 1.
        var mask = Build(10, 10, (x, y) => x < 7 && y < 3);

        var weights = WeightMap.Compute(mask, 10, 10);

        var foregroundSum = weights.Where((_, i) => mask[i] != 0).Sum();
        var backgroundSum = weights.Where((_, i) => mask[i] == 0).Sum();
        Assert.Equal(50, foregroundSum, 1e-3);
        Assert.Equal(50, backgroundSum, 1e-3);
    }

    [Fact]
    public void Compute_BalancingOff_ClassWeightOne()
    {
        var mask = Build(10, 10, (x, y) => x < 7 && y < 3);

        var weights = WeightMap.Compute(mask, 10, 10, new WeightMapOptions(BalanceClasses: false));

        Assert.All(weights, w => Assert.Equal(1f, w));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(255)]
    public void Compute_MaskOfOneClass_WeightsOne(byte value)
    {
        // No second class to balance against, and no two objects: every weight is 1, never a division by zero.
        var mask = Enumerable.Repeat(value, 12).ToArray();

        var weights = WeightMap.Compute(mask, 4, 3);

        Assert.All(weights, w => Assert.Equal(1f, w));
    }

    [Fact]
    public void Compute_GridOfCells_MaximumExactlyAtOnePixelGaps()
    {
        // An ISBI-sized synthetic mask: 512x512, ~300 rectangular cells 26 px wide and 28 px high, horizontal
        // membranes 2 px thick, vertical membranes alternately 1 and 3 px wide. Every background pixel is at
        // distance >= 1 from every cell, so d1 + d2 >= 2, with equality exactly at the one-pixel gaps flanked by
        // two cells: those, and only those, carry the maximum weight.
        const int size = 512;
        var mask = Build(size, size, (x, y) => IsCellColumn(x) && IsCellRow(y));
        var backgroundWeight = size * size / (2.0 * mask.Count(v => v == 0));

        var weights = WeightMap.Compute(mask, size, size);

        var maximum = weights.Max();
        Assert.Equal(backgroundWeight + (10 * Math.Exp(-0.08)), maximum, Tolerance);
        for (var y = 0; y < size; y++)
        {
            for (var x = 0; x < size; x++)
            {
                var inOnePixelGap = x % 56 == 26 && IsCellRow(y);
                var isMaximum = weights[(y * size) + x] > maximum - 1e-4;
                Assert.True(inOnePixelGap == isMaximum, $"pixel ({x}, {y}): in a 1-px gap {inOnePixelGap}, maximum {isMaximum}");
            }
        }

        // The middle of a three-pixel gap (d1 = d2 = 2) weighs less than a one-pixel gap, more than a cell.
        var wideGap = weights[(10 * size) + 54];
        Assert.Equal(backgroundWeight + (10 * Math.Exp(-16.0 / 50)), wideGap, Tolerance);

        static bool IsCellColumn(int x) => x % 56 is < 26 or (>= 27 and < 53);
        static bool IsCellRow(int y) => y % 30 < 28;
    }

    [Fact]
    public void Compute_RandomCells_MatchesBruteForceDistances()
    {
        // Random blobs on a 48x40 mask with a small sigma, so that the per-object margin (6σ = 12 px) is smaller than
        // the image: the weights must still match d1 and d2 taken over every pixel of every object.
        const int width = 48;
        const int height = 40;
        var random = new Random(12345);
        var mask = Build(width, height, (_, _) => random.NextDouble() < 0.35);
        var options = new WeightMapOptions(W0: 10, Sigma: 2, BalanceClasses: false);

        var weights = WeightMap.Compute(mask, width, height, options);

        var expected = BruteForce(mask, width, height, options);
        for (var i = 0; i < mask.Length; i++)
        {
            Assert.Equal(expected[i], weights[i], Tolerance);
        }
    }

    [Fact]
    public void Compute_WidthTimesHeightDisagreesWithMask_Throws()
    {
        Assert.Throws<ArgumentException>(() => WeightMap.Compute(new byte[12], 5, 3));
    }

    [Theory]
    [InlineData(10, 0)]
    [InlineData(10, double.NaN)]
    [InlineData(-1, 5)]
    public void Compute_InvalidOptions_Throws(double w0, double sigma)
    {
        Assert.Throws<ArgumentOutOfRangeException>(
            () => WeightMap.Compute(new byte[12], 4, 3, new WeightMapOptions(W0: w0, Sigma: sigma)));
    }

    private static byte[] Build(int width, int height, Func<int, int, bool> isForeground)
    {
        var mask = new byte[width * height];
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                mask[(y * width) + x] = isForeground(x, y) ? (byte)1 : (byte)0;
            }
        }

        return mask;
    }

    /// <summary>Equation 2 of the paper, computed naively: every background pixel against every object pixel.</summary>
    private static double[] BruteForce(byte[] mask, int width, int height, WeightMapOptions options)
    {
        var labels = FloodFill(mask, width, height, out var count);
        var weights = new double[mask.Length];
        for (var i = 0; i < mask.Length; i++)
        {
            weights[i] = 1;
            if (mask[i] != 0)
            {
                continue;
            }

            var nearestPerObject = Enumerable.Repeat(double.PositiveInfinity, count + 1).ToArray();
            for (var j = 0; j < mask.Length; j++)
            {
                if (labels[j] != 0)
                {
                    var dx = (i % width) - (j % width);
                    var dy = (i / width) - (j / width);
                    nearestPerObject[labels[j]] = Math.Min(nearestPerObject[labels[j]], Math.Sqrt((dx * dx) + (dy * dy)));
                }
            }

            var sorted = nearestPerObject.Skip(1).Order().ToArray();
            if (sorted.Length >= 2)
            {
                var sum = sorted[0] + sorted[1];
                weights[i] += options.W0 * Math.Exp(-(sum * sum) / (2 * options.Sigma * options.Sigma));
            }
        }

        return weights;
    }

    private static int[] FloodFill(byte[] mask, int width, int height, out int count)
    {
        var labels = new int[mask.Length];
        count = 0;
        for (var start = 0; start < mask.Length; start++)
        {
            if (mask[start] == 0 || labels[start] != 0)
            {
                continue;
            }

            labels[start] = ++count;
            var stack = new Stack<(int X, int Y)>();
            stack.Push((start % width, start / width));
            while (stack.TryPop(out var p))
            {
                foreach (var (x, y) in new[] { (p.X - 1, p.Y), (p.X + 1, p.Y), (p.X, p.Y - 1), (p.X, p.Y + 1) })
                {
                    if (x >= 0 && x < width && y >= 0 && y < height && mask[(y * width) + x] != 0 && labels[(y * width) + x] == 0)
                    {
                        labels[(y * width) + x] = count;
                        stack.Push((x, y));
                    }
                }
            }
        }

        return labels;
    }
}
