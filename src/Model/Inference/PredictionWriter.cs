using UNetCluster.Data.Imaging;
using UNetCluster.Data.Labels;
using static TorchSharp.torch;

namespace UNetCluster.Model.Inference;

/// <summary>The files written for one predicted image.</summary>
/// <param name="Mask">The predicted mask, 1 = cell (foreground class), 0 = membrane, row-major.</param>
public sealed record PredictionFiles(string ProbabilityPng, string MaskPng, string OverlayPng, byte[] Mask)
{
    /// <summary>The 16-bit object labels (<see cref="PredictionWriter.InstancesSuffix"/>), when asked for.</summary>
    public string? InstancesPng { get; init; }
}

/// <summary>
/// Writes what a person looks at after prediction, for an image named <c>{name}</c>:
/// <c>{name}.probability.png</c> (foreground probability, 0..255), <c>{name}.mask.png</c> (255 = cell, 0 = membrane,
/// the ground truth's convention, so <c>unet evaluate</c> reads it directly) and <c>{name}.overlay.png</c>
/// (the image, in gray or colour, with the predicted membranes in red; with a ground truth, missed membrane in yellow).
/// </summary>
public static class PredictionWriter
{
    public const string ProbabilitySuffix = ".probability.png";
    public const string MaskSuffix = ".mask.png";
    public const string OverlaySuffix = ".overlay.png";
    public const string InstancesSuffix = ".instances.png";

    /// <param name="probabilities">(Classes, H, W) softmax output; class 1 is the foreground (cell).</param>
    /// <param name="threshold">Two classes: foreground where its probability is at least this (0.5 is the arg-max).
    /// More classes: the arg-max, and the mask is foreground where it is class 1.</param>
    /// <param name="instances">Also write <c>{name}.instances.png</c>: a 16-bit label per pixel, 0 = background, 1..N the
    /// objects (the 4-connected components of the mask; a model trained on instance masks separates touching objects
    /// by a background border).</param>
    public static PredictionFiles Write(string directory, string name, GrayImage image, Tensor probabilities, byte[]? truth = null, double threshold = 0.5, bool instances = false)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(probabilities);
        Directory.CreateDirectory(directory);
        var (width, height) = (image.Width, image.Height);
        float[] foreground;
        long[] classes;
        using (var scope = NewDisposeScope())
        {
            foreground = probabilities[1].contiguous().data<float>().ToArray();
            classes = probabilities.argmax(0).contiguous().data<long>().ToArray();
        }

        var mask = probabilities.shape[0] == 2
            ? foreground.Select(p => (byte)(p >= threshold ? 1 : 0)).ToArray()
            : classes.Select(c => (byte)(c == 1 ? 1 : 0)).ToArray();
        var probabilityPng = Path.Combine(directory, name + ProbabilitySuffix);
        var maskPng = Path.Combine(directory, name + MaskSuffix);
        var overlayPng = Path.Combine(directory, name + OverlaySuffix);
        PngWriter.WriteGray8(probabilityPng, foreground.Select(p => (byte)Math.Clamp(Math.Round(p * 255.0), 0, 255)).ToArray(), width, height);
        PngWriter.WriteGray8(maskPng, mask.Select(m => (byte)(m * 255)).ToArray(), width, height);
        PngWriter.WriteRgb8(overlayPng, Overlay(image, mask, truth), width, height);
        return new PredictionFiles(probabilityPng, maskPng, overlayPng, mask)
        {
            InstancesPng = instances ? WriteInstances(Path.Combine(directory, name + InstancesSuffix), mask, width, height) : null,
        };
    }

    private static string WriteInstances(string path, byte[] mask, int width, int height)
    {
        var objects = ConnectedComponents.Find(mask, width, height);
        if (objects.Count > ushort.MaxValue)
        {
            throw new InvalidOperationException($"{path}: the prediction has {objects.Count} objects, more than a 16-bit label image holds ({ushort.MaxValue}).");
        }

        PngWriter.WriteGray16(path, [.. objects.Labels.Select(l => (ushort)l)], width, height);
        return path;
    }

    /// <summary>
    /// The image (gray, or in colour: channels 0, 1, 2 as red, green, blue; a fourth channel is not shown); predicted
    /// membrane blended red; where a ground truth is given, missed membrane yellow.
    /// </summary>
    public static byte[] Overlay(GrayImage image, byte[] mask, byte[]? truth)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(mask);
        var unit = image.ToUnitRange();
        var pixels = image.PlaneLength;
        var rgb = new byte[pixels * 3];
        for (var i = 0; i < pixels; i++)
        {
            var (r, g, b) = image.Channels == 1
                ? (unit[i] * 255f, unit[i] * 255f, unit[i] * 255f)
                : (unit[i] * 255f, unit[pixels + i] * 255f, image.Channels > 2 ? unit[(2 * pixels) + i] * 255f : 0f);
            if (mask[i] == 0)
            {
                (r, g, b) = ((0.45f * r) + (0.55f * 255f), 0.45f * g, 0.45f * b);       // predicted membrane
            }
            else if (truth is not null && truth[i] == 0)
            {
                (r, g, b) = ((0.45f * r) + (0.55f * 255f), (0.45f * g) + (0.55f * 220f), 0.45f * b); // missed membrane
            }

            rgb[3 * i] = (byte)Math.Clamp(r, 0, 255);
            rgb[(3 * i) + 1] = (byte)Math.Clamp(g, 0, 255);
            rgb[(3 * i) + 2] = (byte)Math.Clamp(b, 0, 255);
        }

        return rgb;
    }
}
