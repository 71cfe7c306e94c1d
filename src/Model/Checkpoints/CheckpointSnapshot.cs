using System.Globalization;
using System.Text.Json;
using UNetCluster.Model.Modules;
using UNetCluster.Model.Optimization;
using static TorchSharp.torch;

namespace UNetCluster.Model.Checkpoints;

/// <summary>
/// A checkpoint taken in memory: the serialized weights and optimizer state (safetensors bytes) and what the manifest
/// says about them. Taking it is the only part of a checkpoint that blocks training; hashing and uploading it
/// (the training wing's checkpoint store and uploader) can run on another thread, because it
/// shares nothing with the live model.
/// </summary>
public sealed record CheckpointSnapshot(
    long Step,
    long Seed,
    UNetOptions Model,
    OptimizerOptions Optimizer,
    JsonElement? Training,
    double? Loss,
    double? Threshold,
    byte[] ModelBytes,
    byte[] OptimizerBytes)
{
    /// <summary>Set when the run's validation at this step was its best so far: the checkpoint becomes the run's best.</summary>
    public CheckpointSelection? Selection { get; init; }

    /// <summary>The smallest object size calibrated with <see cref="Threshold"/> (see <see cref="CheckpointManifest.MinObjectPixels"/>).</summary>
    public int? MinObjectPixels { get; init; }

    /// <summary>Serializes the model's state dict and the optimizer's state (with its step count) on the calling thread.</summary>
    public static CheckpointSnapshot Capture(long step, UNet model, FlatOptimizer optimizer, long seed, JsonElement? training, double? loss, double? threshold = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(optimizer);
        return new CheckpointSnapshot(step, seed, model.Options, optimizer.Options, training, loss is { } l && double.IsFinite(l) ? l : null, threshold,
            SerializeModel(step, model), SerializeOptimizer(optimizer));
    }

    /// <summary>The model's state dict as <c>model.safetensors</c> bytes (PyTorch-style names, <c>format: pt</c>).</summary>
    public static byte[] SerializeModel(long step, UNet model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["step"] = step.ToString(CultureInfo.InvariantCulture) };
        return SafeTensors.ToBytes(model.state_dict().Select(kv => (kv.Key, kv.Value)).ToList(), metadata);
    }

    /// <summary>The optimizer's state vectors and step count as <c>optimizer.safetensors</c> bytes.</summary>
    public static byte[] SerializeOptimizer(FlatOptimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        using var steps = tensor(new[] { optimizer.StepCount });
        return SafeTensors.ToBytes(optimizer.State.Select(kv => (kv.Key, kv.Value)).Append(("step", steps)).ToList());
    }

    /// <summary>Bytes held by the snapshot.</summary>
    public long Size => ModelBytes.LongLength + OptimizerBytes.LongLength;
}
