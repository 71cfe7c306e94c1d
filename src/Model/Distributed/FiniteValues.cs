using System.Numerics;
using System.Runtime.InteropServices;

namespace UNetCluster.Model.Distributed;

/// <summary>The one check that a gradient (or any float vector) holds no NaN or infinity: workers and reducers both call it.</summary>
public static class FiniteValues
{
    /// <summary>
    /// True when no value is NaN or infinite: v - v is 0 for a finite v and NaN otherwise, and NaN survives a sum.
    /// </summary>
    public static bool All(ReadOnlySpan<float> values)
    {
        var vectors = MemoryMarshal.Cast<float, Vector<float>>(values);
        var sum = Vector<float>.Zero;
        foreach (var v in vectors)
        {
            sum += v - v;
        }

        var finite = Vector.EqualsAll(sum, Vector<float>.Zero);
        foreach (var v in values[(vectors.Length * Vector<float>.Count)..])
        {
            finite &= float.IsFinite(v);
        }

        return finite;
    }
}
