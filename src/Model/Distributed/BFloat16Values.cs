using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace UNetCluster.Model.Distributed;

/// <summary>
/// float32 to and from bfloat16 little-endian bytes, as libtorch converts (a bf16 value is the upper 16 bits of a
/// float32; narrowing rounds to nearest, ties to even, and keeps NaN a NaN). Widening is exact, so a vector that holds
/// bf16 values (a bf16 backward pass's gradient cast to float32) goes through narrow and widen unchanged.
/// </summary>
public static class BFloat16Values
{
    /// <summary>Writes <paramref name="values"/> as bf16 into <paramref name="destination"/> (2 bytes a value).</summary>
    public static void Narrow(ReadOnlySpan<float> values, Span<byte> destination)
    {
        if (destination.Length != values.Length * 2)
        {
            throw new ArgumentException($"{values.Length} values take {values.Length * 2} bytes as bf16; the destination has {destination.Length}.", nameof(destination));
        }

        var bits = MemoryMarshal.Cast<float, uint>(values);
        var halves = MemoryMarshal.Cast<byte, ushort>(destination);
        for (var i = 0; i < bits.Length; i++)
        {
            halves[i] = Round(bits[i]);
        }

        if (!BitConverter.IsLittleEndian)
        {
            BinaryPrimitives.ReverseEndianness(halves, halves);
        }
    }

    /// <summary>Writes the bf16 values of <paramref name="source"/> (2 bytes a value) into <paramref name="destination"/> as float32.</summary>
    public static void Widen(ReadOnlySpan<byte> source, Span<float> destination)
    {
        if (source.Length != destination.Length * 2)
        {
            throw new ArgumentException($"{destination.Length} values come from {destination.Length * 2} bytes of bf16; the source has {source.Length}.", nameof(source));
        }

        var bits = MemoryMarshal.Cast<float, uint>(destination);
        for (var i = 0; i < bits.Length; i++)
        {
            bits[i] = (uint)BinaryPrimitives.ReadUInt16LittleEndian(source[(2 * i)..]) << 16;
        }
    }

    /// <summary>True when no bf16 value of <paramref name="source"/> is NaN or infinite (its exponent bits are not all ones).</summary>
    public static bool AllFinite(ReadOnlySpan<byte> source)
    {
        var halves = MemoryMarshal.Cast<byte, ushort>(source);
        var exponent = BitConverter.IsLittleEndian ? (ushort)0x7F80 : (ushort)0x807F;
        var finite = true;
        foreach (var half in halves)
        {
            finite &= (half & exponent) != exponent;
        }

        return finite && source.Length % 2 == 0;
    }

    /// <summary>The bf16 bits nearest to float32 bits <paramref name="bits"/> (ties to even); a NaN stays a quiet NaN.</summary>
    public static ushort Round(uint bits)
    {
        if ((bits & 0x7FFFFFFF) > 0x7F800000)
        {
            return (ushort)((bits >> 16) | 0x0040);
        }

        var lsb = (bits >> 16) & 1;
        return (ushort)((bits + 0x7FFF + lsb) >> 16);
    }
}
