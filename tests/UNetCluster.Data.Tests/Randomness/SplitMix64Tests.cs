using UNetCluster.Data.Randomness;

namespace UNetCluster.Data.Tests.Randomness;

public sealed class SplitMix64Tests
{
    [Fact]
    public void NextUInt64_Seed1234567_MatchesReferenceImplementation()
    {
        // First outputs of Vigna's splitmix64.c seeded with 1234567.
        var random = new SplitMix64(1234567);

        ulong[] actual = [random.NextUInt64(), random.NextUInt64(), random.NextUInt64(), random.NextUInt64(), random.NextUInt64()];

        Assert.Equal(
            [6457827717110365317UL, 3203168211198807973UL, 9817491932198370423UL, 4593380528125082431UL, 16408922859458223821UL],
            actual);
    }

    [Fact]
    public void NextInt_ManyDraws_CoversEveryValueInRangeAndNothingElse()
    {
        var random = new SplitMix64(7);
        var counts = new int[5];

        for (var i = 0; i < 5000; i++)
        {
            counts[random.NextInt(5)]++; // an out-of-range value would throw here
        }

        Assert.All(counts, count => Assert.InRange(count, 900, 1100));
    }

    [Fact]
    public void NextGaussian_ManyDraws_HasZeroMeanAndUnitStandardDeviation()
    {
        var random = new SplitMix64(11);
        var values = Enumerable.Range(0, 20000).Select(_ => random.NextGaussian()).ToArray();

        var mean = values.Average();
        var std = Math.Sqrt(values.Select(v => (v - mean) * (v - mean)).Average());

        Assert.InRange(mean, -0.03, 0.03);
        Assert.InRange(std, 0.97, 1.03);
    }
}
