using System.Buffers.Binary;
using System.Numerics;
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
        var width = Vector<uint>.Count;
        var i = 0;
        if (BitConverter.IsLittleEndian)
        {
            // Two vectors of float32 bits to one of bf16, the same arithmetic as Round: add 0x7FFF plus the kept
            // half's lowest bit, keep the upper half; a NaN keeps its upper half with the quiet bit set.
            var one = Vector<uint>.One;
            var bias = new Vector<uint>(0x7FFF);
            var magnitude = new Vector<uint>(0x7FFFFFFF);
            var infinity = new Vector<uint>(0x7F800000);
            var quiet = new Vector<uint>(0x00400000);
            for (; i <= bits.Length - (2 * width); i += 2 * width)
            {
                var low = RoundVector(new Vector<uint>(bits[i..]), one, bias, magnitude, infinity, quiet);
                var high = RoundVector(new Vector<uint>(bits[(i + width)..]), one, bias, magnitude, infinity, quiet);
                Vector.Narrow(low, high).CopyTo(halves[i..]);
            }
        }

        for (; i < bits.Length; i++)
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
        var i = 0;
        if (BitConverter.IsLittleEndian)
        {
            var halves = MemoryMarshal.Cast<byte, ushort>(source);
            var width = Vector<ushort>.Count;
            for (; i <= halves.Length - width; i += width)
            {
                Vector.Widen(new Vector<ushort>(halves[i..]), out var low, out var high);
                Vector.ShiftLeft(low, 16).CopyTo(bits[i..]);
                Vector.ShiftLeft(high, 16).CopyTo(bits[(i + (width / 2))..]);
            }
        }

        for (; i < bits.Length; i++)
        {
            bits[i] = (uint)BinaryPrimitives.ReadUInt16LittleEndian(source[(2 * i)..]) << 16;
        }
    }

    /// <summary>
    /// Writes <paramref name="values"/> into <paramref name="destination"/> as a bucket's bytes: float32, or with
    /// <paramref name="bfloat16"/> narrowed to bf16 (<see cref="Narrow"/>). The one place that picks between the two.
    /// </summary>
    public static void Encode(ReadOnlySpan<float> values, Span<byte> destination, bool bfloat16)
    {
        if (bfloat16)
        {
            Narrow(values, destination);
        }
        else
        {
            MemoryMarshal.AsBytes(values).CopyTo(destination);
        }
    }

    /// <summary>Reads a bucket's bytes (float32, or with <paramref name="bfloat16"/> bf16, widened) into <paramref name="destination"/>.</summary>
    public static void Decode(ReadOnlySpan<byte> source, Span<float> destination, bool bfloat16)
    {
        if (bfloat16)
        {
            Widen(source, destination);
        }
        else
        {
            MemoryMarshal.Cast<byte, float>(source).CopyTo(destination);
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

    /// <summary>Round's arithmetic on a vector of float32 bits; the result's upper halves are the bf16 values, its lower halves zero.</summary>
    private static Vector<uint> RoundVector(Vector<uint> bits, Vector<uint> one, Vector<uint> bias, Vector<uint> magnitude, Vector<uint> infinity, Vector<uint> quiet)
    {
        var rounded = Vector.ShiftRightLogical(bits + bias + (Vector.ShiftRightLogical(bits, 16) & one), 16);
        var nan = Vector.GreaterThan(bits & magnitude, infinity);
        return Vector.ConditionalSelect(nan, Vector.ShiftRightLogical(bits | quiet, 16), rounded);
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
