using UNetCluster.Model.Distributed;

namespace UNetCluster.Model.Tests.Distributed;

/// <summary>The reducer's vectorised arithmetic gives exactly what the plain per-value loops give.</summary>
public sealed class ShardArithmeticTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 7)]
    [InlineData(3, 40_003)]        // more than one chunk, a tail shorter than a vector
    public void Average_IsBitIdenticalToTheScalarDoubleSumInWorkerOrder(int workers, int length)
    {
        var random = new Random(length);
        var gradients = Enumerable.Range(0, workers)
            .Select(_ => Enumerable.Range(0, length).Select(_ => (float)((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-8, 4)))).ToArray())
            .ToArray();
        var samples = Enumerable.Range(0, workers).Select(k => k + 1).ToArray();
        var weights = samples.Select(s => (double)s / samples.Sum()).ToArray();
        var expected = new float[length];
        for (var i = 0; i < length; i++)
        {
            var sum = 0.0;
            for (var k = 0; k < workers; k++)
            {
                sum += weights[k] * gradients[k][i];
            }

            expected[i] = (float)sum;
        }

        var mean = new float[length];
        ShardReducer.Average(gradients, weights, mean, new double[16 * 1024]);
        ShardReducer.Average(gradients, weights, gradients[0], new double[16 * 1024]);   // in place, as Apply does

        Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), mean.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), gradients[0].Select(BitConverter.SingleToInt32Bits));
    }

    [Theory]
    [InlineData(0, float.NaN)]
    [InlineData(17, float.PositiveInfinity)]
    [InlineData(1000, float.NegativeInfinity)]
    [InlineData(1002, float.NaN)]   // in the tail after the last whole vector
    public void AllFinite_FindsANonFiniteValueAnywhere(int at, float value)
    {
        var values = Enumerable.Range(0, 1003).Select(i => (float)Math.Sin(i) * 1e30f).ToArray();
        Assert.True(FiniteValues.All(values));

        values[at] = value;

        Assert.False(FiniteValues.All(values));
    }
}
