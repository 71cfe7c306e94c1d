using System.Text.Json;
using System.Text.Json.Serialization;
using UNetCluster.Data.Imaging;
using UNetCluster.Model.Optimization;

namespace UNetCluster.Model.Checkpoints;

/// <summary>
/// What a checkpoint folder holds and how it was made: enough to rebuild the network, the optimizer and the
/// random stream and go on exactly where training stopped (nanoGPT's checkpoint dictionary, as JSON).
/// </summary>
/// <param name="Format">Format tag, <see cref="CurrentFormat"/>.</param>
/// <param name="Step">Optimizer steps applied to the weights in this checkpoint.</param>
/// <param name="Seed">The run's seed. Every random draw of step s derives from (Seed, s, ...), so (Seed, Step) is the random state.</param>
/// <param name="Model">The layer plan the weights belong to.</param>
/// <param name="Optimizer">The optimizer's hyper-parameters.</param>
/// <param name="Training">The training options the run was started with, as JSON.</param>
/// <param name="Files">sha256 (lower-case hex) of each file in the folder, by file name.</param>
/// <param name="CreatedUtc">When the checkpoint was written.</param>
/// <param name="Loss">Training loss at this step (mean of the last steps), if known.</param>
/// <param name="Threshold">Foreground probability above which a pixel is predicted foreground, calibrated on training
/// sections at the end of a run (null: 0.5, the arg-max of two classes).</param>
public sealed record CheckpointManifest(
    string Format,
    long Step,
    long Seed,
    UNetOptions Model,
    OptimizerOptions Optimizer,
    JsonElement? Training,
    IReadOnlyDictionary<string, string> Files,
    DateTimeOffset CreatedUtc,
    double? Loss = null,
    double? Threshold = null)
{
    /// <summary>Set on a run's best checkpoint: the validation that made it the best (its metric, value and calibrated threshold).</summary>
    public CheckpointSelection? Selection { get; init; }

    /// <summary>
    /// With object labels, objects of fewer pixels are left out by default: the size calibrated with <see cref="Threshold"/>
    /// on the validation sections (0 keeps every object). Set only when the run validated against instance masks, so its
    /// presence also says the model was trained for objects (prediction then writes object labels by default); null for
    /// other data and for checkpoints written before any validation.
    /// </summary>
    public int? MinObjectPixels { get; init; }

    public const string CurrentFormat = "unetcluster.checkpoint/1";
    public const string FileName = "manifest.json";

    /// <summary>The checkpoint's weights, in safetensors with PyTorch-style names, beside the manifest.</summary>
    public const string ModelFile = "model.safetensors";

    /// <summary>The checkpoint's optimizer state, in safetensors, beside the manifest.</summary>
    public const string OptimizerFile = "optimizer.safetensors";

    public static JsonSerializerOptions JsonOptions { get; } = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
    };

    /// <summary>
    /// The intensity normalisation the run trained with (its training options' <c>normalisation</c>), which prediction
    /// must apply too; mean/std for checkpoints written before it was an option.
    /// </summary>
    public IntensityNormalisation Normalisation =>
        Training is { ValueKind: JsonValueKind.Object } training && training.TryGetProperty("normalisation", out var recorded)
            ? (recorded.Deserialize<IntensityNormalisation>(JsonOptions) ?? IntensityNormalisation.MeanStd).Validate()
            : IntensityNormalisation.MeanStd;
}

/// <summary>
/// Why a checkpoint is its run's best: the value of the selection metric on the validation sections, at
/// <paramref name="Threshold"/> and, for objects, without those under <paramref name="MinObjectPixels"/> pixels.
/// </summary>
public sealed record CheckpointSelection(string Metric, double Value, double Threshold, int MinObjectPixels = 0);
