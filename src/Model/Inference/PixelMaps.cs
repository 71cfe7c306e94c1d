using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace UNetCluster.Model.Inference;

/// <summary>
/// What <see cref="PredictionWriter"/> writes of an image, pixel by pixel, taken from the probabilities: the foreground
/// probability (0..255), the mask (1 = foreground), the class per pixel and, for more than two classes, each class's
/// probability (0..255). Every value depends on its own pixel only, so the maps of an image's blocks, computed on
/// different machines, stitch into the maps of the whole image (<see cref="Stitch"/>), and the whole image's
/// probabilities are never held as floats in one place.
/// </summary>
/// <param name="Classes">The model's classes (2 or more).</param>
/// <param name="PerClass">For more than two classes, each class's probability; empty for two.</param>
public sealed record PixelMaps(int Width, int Height, int Classes, byte[] Probability, byte[] Mask, byte[] ClassMap, byte[][] PerClass)
{
    private const uint Magic = 0x3250_4D55;   // "UMP2"

    /// <summary>
    /// With a border class, the background's and the interior's probabilities as computed (not rounded to bytes): object
    /// labels are grown from them (<see cref="Data.Labels.InstanceTargets.ObjectsFromBorderProbabilities"/>), and they
    /// are exactly what <c>unet predict</c> grows from. Null otherwise.
    /// </summary>
    public float[]? Background { get; init; }

    /// <inheritdoc cref="Background"/>
    public float[]? Interior { get; init; }

    /// <summary>The decision threshold the maps were made with: the mask's for two classes, the seeds' with a border class.</summary>
    public double Threshold { get; init; } = 0.5;

    /// <summary>
    /// The maps of (Classes, H, W) softmax <paramref name="probabilities"/>: two classes give the mask where class 1's
    /// probability is at least <paramref name="threshold"/> (and the class map is the mask); more give the arg-max, and
    /// the mask is class 1 with a border class, else any class but 0 (see <see cref="PredictionWriter.Write(string, string, Data.Imaging.GrayImage, Tensor, byte[], double, bool, PredictionClasses)"/>).
    /// </summary>
    public static PixelMaps From(Tensor probabilities, double threshold, PredictionClasses? classes)
    {
        ArgumentNullException.ThrowIfNull(probabilities);
        classes ??= new PredictionClasses();
        var count = (int)probabilities.shape[0];
        var (height, width) = ((int)probabilities.shape[1], (int)probabilities.shape[2]);
        float[] foreground;
        byte[] classMap;
        byte[][] perClass = [];
        float[]? background = null;
        float[]? interior = null;
        using (var scope = NewDisposeScope())
        {
            // (C, H, W) -> the foreground's probability: class 1 for two classes or the interior, else 1 - background.
            var fore = count == 2 || classes.BorderClass ? probabilities[1] : 1 - probabilities[0];
            foreground = fore.contiguous().data<float>().ToArray();
            classMap = [.. probabilities.argmax(0).contiguous().data<long>().ToArray().Select(c => (byte)c)];
            if (count > 2)
            {
                perClass = [.. Enumerable.Range(0, count).Select(k => PredictionWriter.ToBytes(probabilities[k].contiguous().data<float>().ToArray()))];
            }

            if (classes.BorderClass)
            {
                background = probabilities[0].contiguous().data<float>().ToArray();
                interior = foreground;
            }
        }

        var mask = count == 2
            ? foreground.Select(p => (byte)(p >= threshold ? 1 : 0)).ToArray()
            : classMap.Select(c => (byte)(classes.BorderClass ? (c == 1 ? 1 : 0) : (c != 0 ? 1 : 0))).ToArray();
        return new PixelMaps(width, height, count, PredictionWriter.ToBytes(foreground), mask, count == 2 ? mask : classMap, perClass)
        {
            Background = background,
            Interior = interior,
            Threshold = threshold,
        };
    }

    /// <summary>
    /// The maps of a <paramref name="width"/> x <paramref name="height"/> image from the maps of its parts, each placed
    /// with its top-left pixel at (Top, Left). Throws an <see cref="InvalidDataException"/> when a part does not fit,
    /// has another class count, or the parts leave a pixel uncovered.
    /// </summary>
    public static PixelMaps Stitch(int width, int height, int classes, IEnumerable<(long Top, long Left, PixelMaps Part)> parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        var list = parts.ToList();
        var pixels = checked(width * height);
        var grown = list.Count > 0 && list[0].Part.Background is not null;
        var result = new PixelMaps(width, height, classes, new byte[pixels], new byte[pixels], classes == 2 ? [] : new byte[pixels],
            classes == 2 ? [] : [.. Enumerable.Range(0, classes).Select(_ => new byte[pixels])])
        {
            Background = grown ? new float[pixels] : null,
            Interior = grown ? new float[pixels] : null,
            Threshold = list.Count > 0 ? list[0].Part.Threshold : 0.5,
        };
        result = classes == 2 ? result with { ClassMap = result.Mask } : result;
        long covered = 0;
        foreach (var (top, left, part) in list)
        {
            if ((part.Background is not null) != grown || part.Threshold != result.Threshold)
            {
                throw new InvalidDataException("The blocks were made with different thresholds or kinds of model.");
            }

            if (part.Classes != classes || top < 0 || left < 0 || top + part.Height > height || left + part.Width > width)
            {
                throw new InvalidDataException(
                    $"A block of {part.Width}x{part.Height} pixels and {part.Classes} classes at ({left}, {top}) does not fit a {width}x{height} image of {classes} classes.");
            }

            for (var y = 0; y < part.Height; y++)
            {
                var to = (int)(((top + y) * width) + left);
                var from = y * part.Width;
                part.Probability.AsSpan(from, part.Width).CopyTo(result.Probability.AsSpan(to));
                part.Mask.AsSpan(from, part.Width).CopyTo(result.Mask.AsSpan(to));
                if (grown)
                {
                    part.Background.AsSpan(from, part.Width).CopyTo(result.Background.AsSpan(to));
                    part.Interior.AsSpan(from, part.Width).CopyTo(result.Interior.AsSpan(to));
                }

                if (classes > 2)
                {
                    part.ClassMap.AsSpan(from, part.Width).CopyTo(result.ClassMap.AsSpan(to));
                    for (var k = 0; k < classes; k++)
                    {
                        part.PerClass[k].AsSpan(from, part.Width).CopyTo(result.PerClass[k].AsSpan(to));
                    }
                }
            }

            covered += (long)part.Width * part.Height;
        }

        if (covered != pixels)
        {
            throw new InvalidDataException($"The blocks cover {covered} of the image's {pixels} pixels ({width}x{height}): a block is missing or counted twice.");
        }

        return result;
    }

    private const int HeaderBytes = 25;

    /// <summary>The maps as compressed bytes (a block's maps stored until its image is assembled).</summary>
    public byte[] Serialize()
    {
        using var buffer = new MemoryStream();
        Span<byte> header = stackalloc byte[HeaderBytes];
        BinaryPrimitives.WriteUInt32LittleEndian(header, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(header[4..], Width);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], Height);
        BinaryPrimitives.WriteInt32LittleEndian(header[12..], Classes);
        BinaryPrimitives.WriteDoubleLittleEndian(header[16..], Threshold);
        header[24] = Background is null ? (byte)0 : (byte)1;
        buffer.Write(header);
        using (var deflate = new ZLibStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        {
            deflate.Write(Probability);
            deflate.Write(Mask);
            if (Classes > 2)
            {
                deflate.Write(ClassMap);
                foreach (var plane in PerClass)
                {
                    deflate.Write(plane);
                }
            }

            if (Background is not null)
            {
                deflate.Write(MemoryMarshal.AsBytes(Background.AsSpan()));
                deflate.Write(MemoryMarshal.AsBytes(Interior.AsSpan()));
            }
        }

        return buffer.ToArray();
    }

    /// <summary>Reads <see cref="Serialize"/>'s bytes; an <see cref="InvalidDataException"/> naming <paramref name="what"/> when they are not such maps.</summary>
    public static PixelMaps Deserialize(byte[] bytes, string what)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        if (bytes.Length < HeaderBytes || BinaryPrimitives.ReadUInt32LittleEndian(bytes) != Magic)
        {
            throw new InvalidDataException($"{what} is not a block of prediction maps.");
        }

        var width = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(4));
        var height = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8));
        var classes = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(12));
        var threshold = BinaryPrimitives.ReadDoubleLittleEndian(bytes.AsSpan(16));
        var grown = bytes[24] != 0;
        if (width <= 0 || height <= 0 || classes is < 2 or > 256 || (long)width * height > int.MaxValue / (classes + 11))
        {
            throw new InvalidDataException($"{what} declares {width}x{height} pixels of {classes} classes, which no block has.");
        }

        var pixels = width * height;
        using var deflate = new ZLibStream(new MemoryStream(bytes, HeaderBytes, bytes.Length - HeaderBytes), CompressionMode.Decompress);
        byte[] Plane()
        {
            var plane = new byte[pixels];
            deflate.ReadExactly(plane);
            return plane;
        }

        try
        {
            var probability = Plane();
            var mask = Plane();
            var maps = classes == 2
                ? new PixelMaps(width, height, classes, probability, mask, mask, [])
                : new PixelMaps(width, height, classes, probability, mask, Plane(), [.. Enumerable.Range(0, classes).Select(_ => Plane())]);
            if (grown)
            {
                var background = new float[pixels];
                var interior = new float[pixels];
                deflate.ReadExactly(MemoryMarshal.AsBytes(background.AsSpan()));
                deflate.ReadExactly(MemoryMarshal.AsBytes(interior.AsSpan()));
                maps = maps with { Background = background, Interior = interior };
            }

            return maps with { Threshold = threshold };
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"{what} is cut short.", e);
        }
    }
}
