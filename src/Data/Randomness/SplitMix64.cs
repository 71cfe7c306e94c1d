namespace UNetCluster.Data.Randomness;

/// <summary>
/// SplitMix64 (Steele, Lea and Flood, OOPSLA 2014; the constants of Vigna's reference <c>splitmix64.c</c>): a
/// 64-bit counter advanced by the golden-ratio increment and passed through a finaliser. It is tiny, has no hidden
/// global state, and its integer outputs are the same on every platform and .NET version, which is why tiling and
/// augmentation draw their random choices from it rather than from <see cref="System.Random"/> (whose algorithm is
/// not a documented contract) or from libtorch's generator (whose Gaussian kernels depend on the CPU's vector
/// width).
/// </summary>
/// <remarks>
/// One instance is one stream and is not thread-safe; derive independent streams with <see cref="Derive"/> instead
/// of sharing one.
/// </remarks>
internal sealed class SplitMix64
{
    /// <summary>2^64 / golden ratio, odd: the counter increment.</summary>
    internal const ulong Gamma = 0x9E3779B97F4A7C15UL;

    private ulong _state;

    public SplitMix64(long seed)
    {
        _state = unchecked((ulong)seed);
    }

    /// <summary>The finaliser: a bijection of 64-bit words with full avalanche.</summary>
    public static ulong Mix(ulong z)
    {
        unchecked
        {
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }

    /// <summary>
    /// Folds <paramref name="parts"/> into <paramref name="seed"/>, order-sensitively:
    /// <c>h = Mix(seed + γ)</c>, then for each part <c>h = Mix((h ^ Mix(part + γ)) + γ)</c>.
    /// </summary>
    public static long Derive(long seed, ReadOnlySpan<long> parts)
    {
        unchecked
        {
            var h = Mix((ulong)seed + Gamma);
            foreach (var part in parts)
            {
                h = Mix((h ^ Mix((ulong)part + Gamma)) + Gamma);
            }

            return (long)h;
        }
    }

    public ulong NextUInt64()
    {
        unchecked
        {
            _state += Gamma;
        }

        return Mix(_state);
    }

    /// <summary>A uniform integer in [0, <paramref name="exclusiveMax"/>), without modulo bias (rejection).</summary>
    public int NextInt(int exclusiveMax)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(exclusiveMax);
        var bound = (ulong)exclusiveMax;
        var threshold = unchecked(0UL - bound) % bound; // 2^64 mod bound: the biased low end is rejected
        while (true)
        {
            var r = NextUInt64();
            if (r >= threshold)
            {
                return (int)(r % bound);
            }
        }
    }

    public bool NextBool() => (NextUInt64() >> 63) != 0;

    /// <summary>A uniform double in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>A standard normal variate (Box-Muller, one variate per pair of uniforms, so no cached state).</summary>
    public double NextGaussian()
    {
        var u1 = 1.0 - NextDouble(); // (0, 1]: the logarithm stays finite
        var u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}
