using System.Buffers.Binary;
using System.Text;
using UNetCluster.Contracts.Messages;

namespace UNetCluster.Training.Transport;

/// <summary>
/// The data plane's wire format: one request, then one response, at a time on a connection; integers little-endian.
/// A connection carries requests only once its handshake (<see cref="DataPlaneHandshake"/>) has succeeded.
/// <code>
/// request:  magic u32 | op u8 | key length u16 | key (UTF-8, a reducer grain key)
///   gradient: step i64 | attempt i32 | worker i32 | samples i32 | offset i64 | format u8 | byte count i32 | the bytes
///   pull:     name length u16 | name (UTF-8) | version i64 | offset i64 | value count i32 | format u8
/// (format: a WireFormat, 0 float32 or 1 bfloat16; the bytes are the values in it)
/// response: status u8
///   Ok, gradient: outcome i32 (a ContributionOutcome)
///   Ok, pull:     byte count i32 | the bytes
///   NotYet (pull: the version is not reached yet): nothing
///   Error:        message length u16 | message (UTF-8)
/// </code>
/// </summary>
internal static class DataPlaneFrames
{
    public const uint Magic = 0x32504455;   // "UDP2": the frames with a format byte (a "UDP1" peer is refused as malformed)

    /// <summary>The largest bucket a frame may carry: a job's bucket-kib is at most 65536.</summary>
    public const int MaxPayloadBytes = 64 << 20;

    public const int MaxKeyBytes = 1024;

    public const int MaxNameBytes = 128;

    public const int MaxMessageBytes = 4096;

    public const byte GradientOp = 1;

    public const byte PullOp = 2;

    public const byte Ok = 0;

    public const byte NotYet = 1;

    public const byte Error = 2;

    /// <summary>Fixed part of a gradient request after the key.</summary>
    public const int GradientFields = 8 + 4 + 4 + 4 + 8 + 1 + 4;

    /// <summary>Fixed part of a pull request after the name.</summary>
    public const int PullFields = 8 + 8 + 4 + 1;

    /// <summary>Writes a gradient request's head (up to its payload); its length.</summary>
    public static int WriteGradientRequest(Span<byte> buffer, string key, GradientFieldValues fields)
    {
        var at = WriteHead(buffer, GradientOp, key);
        var span = buffer[at..];
        BinaryPrimitives.WriteInt64LittleEndian(span, fields.Step);
        BinaryPrimitives.WriteInt32LittleEndian(span[8..], fields.Attempt);
        BinaryPrimitives.WriteInt32LittleEndian(span[12..], fields.Worker);
        BinaryPrimitives.WriteInt32LittleEndian(span[16..], fields.Samples);
        BinaryPrimitives.WriteInt64LittleEndian(span[20..], fields.Offset);
        span[28] = (byte)fields.Format;
        BinaryPrimitives.WriteInt32LittleEndian(span[29..], fields.Bytes);
        return at + GradientFields;
    }

    public static GradientFieldValues ReadGradientFields(ReadOnlySpan<byte> span) => new(
        BinaryPrimitives.ReadInt64LittleEndian(span),
        BinaryPrimitives.ReadInt32LittleEndian(span[8..]),
        BinaryPrimitives.ReadInt32LittleEndian(span[12..]),
        BinaryPrimitives.ReadInt32LittleEndian(span[16..]),
        BinaryPrimitives.ReadInt64LittleEndian(span[20..]),
        (WireFormat)span[28],
        BinaryPrimitives.ReadInt32LittleEndian(span[29..]));

    /// <summary>Writes a whole pull request; its length.</summary>
    public static int WritePullRequest(Span<byte> buffer, string key, string name, PullFieldValues fields)
    {
        var at = WriteHead(buffer, PullOp, key);
        at += WriteString(buffer[at..], name);
        BinaryPrimitives.WriteInt64LittleEndian(buffer[at..], fields.Version);
        BinaryPrimitives.WriteInt64LittleEndian(buffer[(at + 8)..], fields.Offset);
        BinaryPrimitives.WriteInt32LittleEndian(buffer[(at + 16)..], fields.Count);
        buffer[at + 20] = (byte)fields.Format;
        return at + PullFields;
    }

    public static PullFieldValues ReadPullFields(ReadOnlySpan<byte> span) => new(
        BinaryPrimitives.ReadInt64LittleEndian(span),
        BinaryPrimitives.ReadInt64LittleEndian(span[8..]),
        BinaryPrimitives.ReadInt32LittleEndian(span[16..]),
        (WireFormat)span[20]);

    public static int WriteHead(Span<byte> buffer, byte op, string key)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(buffer, Magic);
        buffer[4] = op;
        var length = Encoding.UTF8.GetBytes(key, buffer[7..]);
        BinaryPrimitives.WriteUInt16LittleEndian(buffer[5..], checked((ushort)length));
        return 7 + length;
    }

    public static int WriteString(Span<byte> buffer, string value)
    {
        var length = Encoding.UTF8.GetBytes(value, buffer[2..]);
        BinaryPrimitives.WriteUInt16LittleEndian(buffer, checked((ushort)length));
        return 2 + length;
    }

    /// <summary>Reads exactly <paramref name="buffer"/>'s length, or throws when the peer closes first.</summary>
    public static async ValueTask ReadExactlyAsync(Stream stream, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        try
        {
            await stream.ReadExactlyAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (EndOfStreamException e)
        {
            throw new IOException("The data-plane connection closed in the middle of a frame.", e);
        }
    }

    public static async ValueTask<string> ReadStringAsync(Stream stream, byte[] scratch, int limit, string what, CancellationToken cancellationToken)
    {
        await ReadExactlyAsync(stream, scratch.AsMemory(0, 2), cancellationToken).ConfigureAwait(false);
        var length = BinaryPrimitives.ReadUInt16LittleEndian(scratch);
        if (length > limit || length > scratch.Length)
        {
            throw new InvalidDataException($"A data-plane frame's {what} is {length} bytes long; at most {limit} are accepted.");
        }

        await ReadExactlyAsync(stream, scratch.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
        return Encoding.UTF8.GetString(scratch, 0, length);
    }
}

/// <summary>A gradient request's fixed fields: the bucket's step, attempt, worker, samples, flat offset, value format and payload bytes.</summary>
internal readonly record struct GradientFieldValues(long Step, int Attempt, int Worker, int Samples, long Offset, WireFormat Format, int Bytes);

/// <summary>A pull request's fixed fields: the version, the flat offset, the number of values and the format to send them in.</summary>
internal readonly record struct PullFieldValues(long Version, long Offset, int Count, WireFormat Format);
