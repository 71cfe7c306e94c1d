using System.Text.Json;
using UNetCluster.Model.Checkpoints;

namespace UNetCluster.Model.Inference;

/// <summary>What prediction takes from a checkpoint's manifest: its classes' meaning and its training tile size.</summary>
public static class CheckpointPrediction
{
    /// <summary>
    /// Whether prediction writes object labels unless told: for a border-class checkpoint (its mask is the interior
    /// only) and for one whose run validated against instance masks (its manifest records the calibrated smallest
    /// object, <see cref="CheckpointManifest.MinObjectPixels"/>, even when that is 0).
    /// </summary>
    public static bool ObjectLabels(CheckpointManifest manifest) => Classes(manifest).BorderClass || manifest.MinObjectPixels is not null;

    /// <summary>What the checkpoint's classes mean: its training options' border class and class names.</summary>
    public static PredictionClasses Classes(CheckpointManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        if (manifest.Training is not { ValueKind: JsonValueKind.Object } training)
        {
            return new PredictionClasses();
        }

        var border = training.TryGetProperty("borderClass", out var b) && b.ValueKind == JsonValueKind.True;
        var names = training.TryGetProperty("classNames", out var n) && n.ValueKind == JsonValueKind.Array
            ? n.EnumerateArray().Select(e => e.GetString() ?? string.Empty).ToList()
            : null;
        return new PredictionClasses(border, names);
    }

    /// <summary>The tile size the checkpoint was trained with, or the valid size nearest above 572 when it does not say.</summary>
    public static int TrainingTileSize(CheckpointManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        if (manifest.Training is { ValueKind: JsonValueKind.Object } training && training.TryGetProperty("tileSize", out var size) && size.ValueKind == JsonValueKind.Number)
        {
            return size.GetInt32();
        }

        return TileGeometry.NearestValidInputSizes(manifest.Model, 572).Above!.Value;
    }
}
