using System.Runtime.InteropServices;
using UNetCluster.Model.Distributed;
using UNetCluster.Model.Optimization;
using static TorchSharp.torch;

namespace UNetCluster.Model.Tests.Distributed;

/// <summary>
/// The bf16 wire format: narrowing rounds as libtorch does (so a reducer's bf16 parameters are exactly the copy a bf16
/// worker's model would make), widening is exact, and a reducer given a bf16 gradient applies the same step as when
/// given the same values as float32.
/// </summary>
public sealed class BFloat16ValuesTests
{
    [Fact]
    public void Narrow_RoundsAsLibtorchDoes_TiesToEvenNaNStaysNaN()
    {
        var random = new Random(16);
        var values = Enumerable.Range(0, 10_000).Select(_ => (float)((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-40, 39))))
            .Concat([0f, -0f, 1f, 1.00390625f, 1.01171875f, float.Epsilon, -float.Epsilon, 1e-39f, float.MaxValue, float.MinValue,
                float.PositiveInfinity, float.NegativeInfinity, 3.3895314e38f])   // 1 + 2^-8 and 1 + 3 * 2^-8: ties that round down and up to even
            .ToArray();
        var narrow = new byte[values.Length * 2];

        BFloat16Values.Narrow(values, narrow);

        using var expected = tensor(values).to(ScalarType.BFloat16);
        Assert.Equal(expected.bytes.ToArray(), narrow);
        var nan = new byte[2];
        BFloat16Values.Narrow([float.NaN], nan);
        var back = new float[1];
        BFloat16Values.Widen(nan, back);
        Assert.True(float.IsNaN(back[0]));
    }

    [Fact]
    public void Widen_IsExactAndNarrowingItAgainChangesNothing()
    {
        var random = new Random(7);
        var values = Enumerable.Range(0, 4096).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        var narrow = new byte[values.Length * 2];
        BFloat16Values.Narrow(values, narrow);
        var widened = new float[values.Length];

        BFloat16Values.Widen(narrow, widened);

        using var torchWidened = tensor(values).to(ScalarType.BFloat16).to(ScalarType.Float32);
        Assert.Equal(torchWidened.data<float>().ToArray(), widened);
        var again = new byte[narrow.Length];
        BFloat16Values.Narrow(widened, again);
        Assert.Equal(narrow, again);
        Assert.All(values.Zip(widened), p => Assert.True(MathF.Abs(p.First - p.Second) <= MathF.Abs(p.First) / 256, $"{p.First} -> {p.Second}"));
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void AllFinite_FindsANonFiniteBf16Value(float value)
    {
        var values = Enumerable.Repeat(0.5f, 33).ToArray();
        var narrow = new byte[values.Length * 2];
        BFloat16Values.Narrow(values, narrow);
        Assert.True(BFloat16Values.AllFinite(narrow));
        values[31] = value;
        BFloat16Values.Narrow(values, narrow);
        Assert.False(BFloat16Values.AllFinite(narrow));
    }

    [Fact]
    public void AddBucket_Bf16_AppliesTheSameStepAsTheSameValuesInFloat32AndRefusesNaN()
    {
        const int length = 1000;
        var initial = Enumerable.Range(0, length).Select(i => MathF.Sin(i) * 0.1f).ToArray();
        var options = new OptimizerOptions { Kind = OptimizerKind.Adam };
        using var fp32 = new ShardReducer(new ShardRange(0, 0, length), initial, options);
        using var bf16 = new ShardReducer(new ShardRange(0, 0, length), initial, options);
        for (var worker = 0; worker < 2; worker++)
        {
            var gradient = Enumerable.Range(0, length).Select(i => MathF.Cos((i + worker) * 0.3f)).ToArray();
            var narrow = new byte[length * 2];
            BFloat16Values.Narrow(gradient, narrow);
            var representable = new float[length];
            BFloat16Values.Widen(narrow, representable);
            Assert.True(fp32.AddBucket(worker, 1, 0, MemoryMarshal.AsBytes(representable.AsSpan())));
            Assert.True(bf16.AddBucket(worker, 1, 0, narrow.AsSpan(0, 1000), bfloat16: true));      // in two buckets
            Assert.True(bf16.AddBucket(worker, 1, 500, narrow.AsSpan(1000), bfloat16: true));
        }

        var poisoned = new byte[length * 2];
        BFloat16Values.Narrow(Enumerable.Repeat(float.NaN, length).ToArray(), poisoned);
        Assert.False(bf16.AddBucket(2, 1, 0, poisoned, bfloat16: true));
        Assert.True(fp32.IsComplete(2) && bf16.IsComplete(2));

        fp32.Apply(0.01);
        bf16.Apply(0.01);

        Assert.Equal(fp32.ParameterValues.ToArray(), bf16.ParameterValues.ToArray());
        var asBf16 = new byte[length * 2];
        bf16.CopyParameters(0, asBf16, bfloat16: true);
        var expected = new byte[length * 2];
        BFloat16Values.Narrow(bf16.ParameterValues, expected);
        Assert.Equal(expected, asBf16);
    }
}
