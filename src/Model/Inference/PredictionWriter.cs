using UNetCluster.Data.Imaging;
using UNetCluster.Data.Labels;
using static TorchSharp.torch;

namespace UNetCluster.Model.Inference;

/// <summary>The files written for one predicted image.</summary>
/// <param name="Mask">The predicted mask, 1 = cell (foreground class), 0 = membrane, row-major.</param>
/// <param name="OverlayPng">Null when no overlay was asked for.</param>
public sealed record PredictionFiles(string ProbabilityPng, string MaskPng, string? OverlayPng, byte[] Mask)
{
    /// <summary>The 16-bit object labels (<see cref="PredictionWriter.InstancesSuffix"/>), when asked for.</summary>
    public string? InstancesPng { get; init; }

    /// <summary>The predicted class per pixel (for two classes, <see cref="Mask"/>).</summary>
    public byte[] Classes { get; init; } = Mask;

    /// <summary>The 8-bit class-index PNG (<see cref="PredictionWriter.ClassesSuffix"/>), for more than two classes.</summary>
    public string? ClassesPng { get; init; }

    /// <summary>The object label per pixel (0 = background), when object labels were asked for.</summary>
    public int[]? Objects { get; init; }

    /// <summary>The number of objects in <see cref="Objects"/>.</summary>
    public int ObjectCount { get; init; }
}

/// <summary>What a model's classes mean, for writing its predictions.</summary>
/// <param name="BorderClass">Three classes background / interior / border (<c>--border-class</c>): the mask is the
/// interior, and objects are seeds of confident interior grown over the foreground
/// (<see cref="InstanceTargets.ObjectsFromBorderProbabilities"/>).</param>
/// <param name="Names">The classes' names by index, for the legend; null to show indices.</param>
public sealed record PredictionClasses(bool BorderClass = false, IReadOnlyList<string>? Names = null);

/// <summary>
/// Writes what a person looks at after prediction, for an image named <c>{name}</c>:
/// <c>{name}.probability.png</c> (foreground probability, 0..255), <c>{name}.mask.png</c> (255 = cell, 0 = membrane,
/// the ground truth's convention, so <c>unet evaluate</c> reads it directly) and <c>{name}.overlay.png</c>
/// (<see cref="SegmentationOverlay"/>: the image with the predicted membranes, or objects with object labels, in red;
/// with a ground truth, hits, false positives and misses in three colours; a legend below the image).
/// </summary>
public static class PredictionWriter
{
    public const string ProbabilitySuffix = ".probability.png";
    public const string MaskSuffix = ".mask.png";
    public const string OverlaySuffix = ".overlay.png";
    public const string InstancesSuffix = ".instances.png";
    public const string ClassesSuffix = ".classes.png";

    /// <summary>The most objects a 16-bit label image holds (labels 1..65535).</summary>
    public const int MaxObjects = ushort.MaxValue;

    /// <param name="probabilities">(Classes, H, W) softmax output; class 1 is the foreground (cell).</param>
    /// <param name="threshold">Two classes: foreground where its probability is at least this (0.5 is the arg-max).
    /// More classes: the arg-max, and the mask is foreground where it is class 1; with a border class, this is also the
    /// interior probability from which a pixel seeds an object.</param>
    /// <param name="instances">Also write <c>{name}.instances.png</c>: a 16-bit label per pixel, 0 = background, 1..N the
    /// objects (two classes: the 4-connected components of the mask split at distinct probability peaks,
    /// <see cref="InstanceTargets.ObjectsFromMask"/>; a model trained on instance masks separates touching objects by a
    /// background border, or at least a dip of the probability; with <see cref="PredictionClasses.BorderClass"/>, seeds of interior probability at least
    /// <paramref name="threshold"/> grown over the foreground).
    /// More than <see cref="MaxObjects"/> objects is refused before any file of the image is written.</param>
    /// <param name="classes">What the classes mean; more than two classes also write <c>{name}.classes.png</c> (the
    /// class index per pixel, 8 bit), <c>{name}.probability.{k}.png</c> per class, and an overlay in the classes'
    /// colours with a legend below the image. The mask is then the foreground (any class but 0), or the interior
    /// with a border class; <c>{name}.probability.png</c> its probability.</param>
    /// <param name="minObjectPixels">With <paramref name="instances"/>: objects of fewer pixels are left out of the labels
    /// (background there; the mask keeps them): the fragments a model predicts on dim or noisy images.</param>
    public static PredictionFiles Write(
        string directory, string name, GrayImage image, Tensor probabilities, byte[]? truth = null, double threshold = 0.5, bool instances = false,
        PredictionClasses? classes = null, int minObjectPixels = 0) =>
        Write(directory, name, image, PixelMaps.From(probabilities, threshold, classes), truth, instances, classes, minObjectPixels: minObjectPixels);

    /// <summary>
    /// Writes an image's files from its <see cref="PixelMaps"/> (see the overload taking the probabilities); the maps
    /// of an image predicted block by block on several machines are stitched first (<see cref="PixelMaps.Stitch"/>),
    /// and give the same files.
    /// </summary>
    public static PredictionFiles Write(
        string directory, string name, GrayImage image, PixelMaps maps, byte[]? truth = null, bool instances = false, PredictionClasses? classes = null,
        bool overlay = true, int minObjectPixels = 0)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(maps);
        classes ??= new PredictionClasses();
        var (width, height) = (image.Width, image.Height);
        if (maps.Width != width || maps.Height != height)
        {
            throw new ArgumentException($"The maps are {maps.Width}x{maps.Height}, the image {image.Source} is {width}x{height}.", nameof(maps));
        }

        var count = maps.Classes;
        var mask = maps.Mask;
        var classMap = maps.ClassMap;

        // Objects before any file, so that an image with too many is refused with nothing of it written.
        int[]? objects = null;
        var objectCount = 0;
        if (instances)
        {
            objects = classes.BorderClass
                ? InstanceTargets.ObjectsFromBorderProbabilities(
                    maps.Background ?? throw new ArgumentException("A border-class model's maps carry its background and interior probabilities.", nameof(maps)),
                    maps.Interior!, width, height, maps.Threshold, out objectCount)
                : count == 2
                    ? InstanceTargets.ObjectsFromMask(mask, Probabilities(maps.Probability), width, height, maps.Threshold, out objectCount)
                    : ConnectedComponents.Label(mask, width, height, out objectCount);
            if (minObjectPixels > 1)
            {
                objects = ConnectedComponents.WithoutSmall(objects, ref objectCount, minObjectPixels);
            }

            if (objectCount > MaxObjects)
            {
                throw new InvalidDataException(
                    $"{image.Source}: the prediction has {objectCount} objects, more than a 16-bit label image ({name}{InstancesSuffix}) holds " +
                    $"({MaxObjects}); predict the image in parts, or without object labels (--instances false). Nothing of it was written.");
            }
        }

        Directory.CreateDirectory(directory);
        var probabilityPng = Path.Combine(directory, name + ProbabilitySuffix);
        var maskPng = Path.Combine(directory, name + MaskSuffix);
        var overlayPng = overlay ? Path.Combine(directory, name + OverlaySuffix) : null;
        PngWriter.WriteGray8(probabilityPng, maps.Probability, width, height);
        PngWriter.WriteGray8(maskPng, mask.Select(m => (byte)(m * 255)).ToArray(), width, height);
        string? classesPng = null;
        if (count == 2)
        {
            if (overlayPng is not null)
            {
                // Objects (instance data) are the foreground; otherwise the membranes, class 0 of the ISBI masks.
                var marked = instances ? 1 : 0;
                var markedName = classes.Names is { Count: 2 } named ? named[marked] : marked == 1 ? "foreground (1)" : "membrane (0)";
                var (rgb, overlayHeight) = SegmentationOverlay.Draw(image, mask, truth, marked, markedName);
                PngWriter.WriteRgb8(overlayPng, rgb, width, overlayHeight);
            }
        }
        else
        {
            classesPng = Path.Combine(directory, name + ClassesSuffix);
            PngWriter.WriteGray8(classesPng, classMap, width, height);
            for (var k = 0; k < count; k++)
            {
                PngWriter.WriteGray8(Path.Combine(directory, FormattableString.Invariant($"{name}.probability.{k}.png")), maps.PerClass[k], width, height);
            }

            if (overlayPng is not null)
            {
                var names = classes.Names ?? (classes.BorderClass ? ["background", "interior", "border"] : null);
                var (rgb, overlayHeight) = ClassOverlay.Draw(image, classMap, count, names);
                PngWriter.WriteRgb8(overlayPng, rgb, width, overlayHeight);
            }
        }

        string? instancesPng = null;
        if (objects is not null)
        {
            instancesPng = Path.Combine(directory, name + InstancesSuffix);
            PngWriter.WriteGray16(instancesPng, [.. objects.Select(l => (ushort)l)], width, height);
        }

        return new PredictionFiles(probabilityPng, maskPng, overlayPng, mask)
        {
            InstancesPng = instancesPng,
            Classes = classMap,
            ClassesPng = classesPng,
            Objects = objects,
            ObjectCount = objectCount,
        };
    }

    internal static byte[] ToBytes(float[] probabilities) =>
        [.. probabilities.Select(p => (byte)Math.Clamp(Math.Round(p * 255.0), 0, 255))];

    // The foreground probability back from its byte map (steps of 1/255): enough to find where it peaks and dips.
    private static float[] Probabilities(byte[] probability) => [.. probability.Select(b => b / 255f)];
}
