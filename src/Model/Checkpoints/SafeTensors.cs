using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace UNetCluster.Model.Checkpoints;

/// <summary>
/// Reads and writes the safetensors format (an 8-byte little-endian header length, a JSON header naming each
/// tensor's dtype, shape and byte range, then the raw little-endian data), so that PyTorch users can load our
/// weights with <c>safetensors.torch.load_file</c>. Supports float32 and int64 tensors.
/// </summary>
public static class SafeTensors
{
    private const long MaxHeaderBytes = 100 * 1024 * 1024;

    /// <summary>Writes tensors (in the given order) and optional string metadata.</summary>
    public static void Write(Stream stream, IReadOnlyList<(string Name, Tensor Tensor)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var (header, _) = Header(tensors, metadata);
        stream.Write(header);
        foreach (var (_, tensor) in tensors)
        {
            // The raw little-endian bytes of the CPU tensor, written straight from native memory.
            using var contiguous = tensor.detach().cpu().contiguous();
            stream.Write(contiguous.bytes);
        }
    }

    /// <summary>Serializes tensors into one array of exactly the file's size (see <see cref="Write"/>), copying each tensor once.</summary>
    public static byte[] ToBytes(IReadOnlyList<(string Name, Tensor Tensor)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var (header, dataBytes) = Header(tensors, metadata);
        var result = GC.AllocateUninitializedArray<byte>(checked((int)(header.Length + dataBytes)));
        header.CopyTo(result.AsSpan());
        var offset = header.Length;
        foreach (var (_, tensor) in tensors)
        {
            using var contiguous = tensor.detach().cpu().contiguous();
            var bytes = contiguous.bytes;
            bytes.CopyTo(result.AsSpan(offset));
            offset += bytes.Length;
        }

        return result;
    }

    /// <summary>The 8-byte length, the JSON header and its padding; and the size of the data section.</summary>
    private static (byte[] Header, long DataBytes) Header(IReadOnlyList<(string Name, Tensor Tensor)> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
        {
            var meta = new JsonObject();
            foreach (var (key, value) in metadata)
            {
                meta[key] = value;
            }

            header["__metadata__"] = meta;
        }

        long offset = 0;
        foreach (var (name, tensor) in tensors)
        {
            var bytes = tensor.numel() * ElementSize(tensor.dtype, name);
            header[name] = new JsonObject
            {
                ["dtype"] = DTypeName(tensor.dtype),
                ["shape"] = new JsonArray(tensor.shape.Select(d => (JsonNode)d).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            offset += bytes;
        }

        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        var padding = (8 - (json.Length % 8)) % 8; // align the data section to 8 bytes, padded with spaces
        var result = new byte[8 + json.Length + padding];
        BinaryPrimitives.WriteUInt64LittleEndian(result, (ulong)(json.Length + padding));
        json.CopyTo(result, 8);
        result.AsSpan(8 + json.Length).Fill((byte)' ');
        return (result, offset);
    }

    /// <summary>Reads every tensor and the metadata; throws <see cref="InvalidDataException"/> for a malformed file.</summary>
    public static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) Read(string path) =>
        Read(File.ReadAllBytes(path), path);

    /// <summary>Parses a safetensors file held in memory; <paramref name="source"/> names it in error messages.</summary>
    public static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) Read(byte[] bytes, string source)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        try
        {
            return Parse(bytes);
        }
        catch (Exception e) when (e is InvalidDataException or JsonException or InvalidOperationException or ArgumentException or FormatException or IndexOutOfRangeException or KeyNotFoundException or NullReferenceException)
        {
            throw new InvalidDataException($"'{source}' is not a valid safetensors file: {e.Message}", e);
        }
    }

    private static (Dictionary<string, Tensor>, Dictionary<string, string>) Parse(byte[] bytes)
    {
        if (bytes.Length < 8)
        {
            throw new InvalidDataException("the file is shorter than the 8-byte header length");
        }

        var headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLength <= 0 || headerLength > MaxHeaderBytes || 8 + headerLength > bytes.Length)
        {
            throw new InvalidDataException($"the header length {headerLength} does not fit the file's {bytes.Length} bytes");
        }

        var header = JsonNode.Parse(bytes.AsSpan(8, (int)headerLength))!.AsObject();
        var dataStart = 8 + headerLength;
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__")
            {
                foreach (var (key, value) in node!.AsObject())
                {
                    metadata[key] = value!.GetValue<string>();
                }

                continue;
            }

            var dtype = node!["dtype"]!.GetValue<string>();
            var shape = node["shape"]!.AsArray().Select(d => d!.GetValue<long>()).ToArray();
            var range = node["data_offsets"]!.AsArray().Select(d => d!.GetValue<long>()).ToArray();
            var count = shape.Aggregate(1L, (a, b) => a * b);
            var start = dataStart + range[0];
            var end = dataStart + range[1];
            var scalar = dtype switch
            {
                "F32" => ScalarType.Float32,
                "I64" => ScalarType.Int64,
                _ => throw new InvalidDataException($"tensor '{name}' has dtype {dtype}; only F32 and I64 are supported"),
            };
            if (end > bytes.Length || end - start != count * ElementSize(scalar, name))
            {
                throw new InvalidDataException($"tensor '{name}' has a byte range that does not match its shape or the file size");
            }

            var span = bytes.AsSpan((int)start, (int)(end - start));
            tensors[name] = scalar == ScalarType.Float32
                ? tensor(MemoryMarshal.Cast<byte, float>(span).ToArray(), shape)
                : tensor(MemoryMarshal.Cast<byte, long>(span).ToArray(), shape);
        }

        return (tensors, metadata);
    }

    private static long ElementSize(ScalarType dtype, string name) => dtype switch
    {
        ScalarType.Float32 => 4,
        ScalarType.Int64 => 8,
        _ => throw new NotSupportedException($"Tensor '{name}' has dtype {dtype}; checkpoints store float32 and int64 only."),
    };

    private static string DTypeName(ScalarType dtype) => dtype == ScalarType.Float32 ? "F32" : "I64";
}
