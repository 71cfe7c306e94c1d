using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using UNetCluster.Model.Modules;
using UNetCluster.Model.Optimization;
using static TorchSharp.torch;

namespace UNetCluster.Model.Checkpoints;

/// <summary>A checkpoint as loaded: the manifest, the model state dict and the optimizer state.</summary>
public sealed record LoadedCheckpoint(string Directory, CheckpointManifest Manifest, Dictionary<string, Tensor> Weights, Dictionary<string, Tensor> OptimizerState) : IDisposable
{
    public void Dispose()
    {
        foreach (var tensor in Weights.Values.Concat(OptimizerState.Values))
        {
            tensor.Dispose();
        }
    }
}

/// <summary>
/// Checkpoints in a local folder, laid out as the blob store will be (../shared/DESIGN.md):
/// <c>checkpoints/{step:D9}/</c> with <c>model.safetensors</c>, <c>optimizer.safetensors</c> and
/// <c>manifest.json</c> (sha256 per file), and a <c>latest</c> pointer. A checkpoint folder is written under a
/// temporary name and renamed into place, and the pointer is replaced atomically after it: a crash mid-write never
/// exposes a torn checkpoint. Loading verifies every hash and falls back to the previous good checkpoint.
/// </summary>
public sealed class LocalCheckpointStore
{
    public const string ModelFile = "model.safetensors";
    public const string OptimizerFile = "optimizer.safetensors";
    public const string LatestPointer = "latest";

    public LocalCheckpointStore(string root, int keepLast = 3)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(root);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(keepLast);
        Root = Path.GetFullPath(root);
        KeepLast = keepLast;
    }

    /// <summary>The folder holding the step folders and the <c>latest</c> pointer.</summary>
    public string Root { get; }

    public int KeepLast { get; }

    /// <summary>Writes a checkpoint and then moves the <c>latest</c> pointer to it. Returns its folder.</summary>
    public string Save(long step, UNet model, FlatOptimizer optimizer, long seed, JsonElement? training, double? loss, double? threshold = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(optimizer);
        Directory.CreateDirectory(Root);
        var name = StepName(step);
        var final = Path.Combine(Root, name);
        var temporary = Path.Combine(Root, $".{name}.tmp-{Environment.ProcessId}");
        if (Directory.Exists(temporary))
        {
            Directory.Delete(temporary, recursive: true);
        }

        Directory.CreateDirectory(temporary);
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["step"] = step.ToString(CultureInfo.InvariantCulture) };
        WriteFile(Path.Combine(temporary, ModelFile), s =>
            SafeTensors.Write(s, model.state_dict().Select(kv => (kv.Key, kv.Value)).ToList(), metadata));
        WriteFile(Path.Combine(temporary, OptimizerFile), s =>
        {
            using var steps = tensor(new[] { optimizer.StepCount });
            var state = optimizer.State.Select(kv => (kv.Key, kv.Value)).Append(("step", steps)).ToList();
            SafeTensors.Write(s, state);
        });

        var files = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            [ModelFile] = Sha256(Path.Combine(temporary, ModelFile)),
            [OptimizerFile] = Sha256(Path.Combine(temporary, OptimizerFile)),
        };
        var manifest = new CheckpointManifest(
            CheckpointManifest.CurrentFormat, step, seed, model.Options, optimizer.Options, training, files, DateTimeOffset.UtcNow, loss, threshold);
        WriteFile(Path.Combine(temporary, CheckpointManifest.FileName), s =>
            JsonSerializer.Serialize(s, manifest, CheckpointManifest.JsonOptions));

        if (Directory.Exists(final))
        {
            Directory.Delete(final, recursive: true);
        }

        Directory.Move(temporary, final);
        var pointer = Path.Combine(Root, LatestPointer);
        var pointerTemporary = pointer + ".tmp";
        File.WriteAllText(pointerTemporary, name + "\n");
        File.Move(pointerTemporary, pointer, overwrite: true);
        Prune();
        return final;
    }

    /// <summary>
    /// Records a calibrated decision threshold in a checkpoint's manifest (rewritten atomically; the weights and their
    /// hashes are unchanged). Returns the checkpoint folder.
    /// </summary>
    public static string SetThreshold(string directory, double threshold)
    {
        var path = Path.Combine(directory, CheckpointManifest.FileName);
        var manifest = JsonSerializer.Deserialize<CheckpointManifest>(File.ReadAllText(path), CheckpointManifest.JsonOptions)
            ?? throw new InvalidDataException($"{path} is empty.");
        var temporary = path + ".tmp";
        using (var stream = File.Create(temporary))
        {
            JsonSerializer.Serialize(stream, manifest with { Threshold = threshold }, CheckpointManifest.JsonOptions);
        }

        File.Move(temporary, path, overwrite: true);
        return directory;
    }

    /// <summary>The step folders present, oldest first.</summary>
    public IReadOnlyList<string> List() =>
        Directory.Exists(Root)
            ? Directory.GetDirectories(Root).Select(Path.GetFileName).Where(n => n is { Length: 9 } && n.All(char.IsAsciiDigit))
                .Order(StringComparer.Ordinal).Select(n => Path.Combine(Root, n!)).ToList()
            : [];

    /// <summary>
    /// Loads the checkpoint the <c>latest</c> pointer names; if its files are missing or their hashes do not match,
    /// reports it through <paramref name="onCorrupt"/> and tries the previous ones. Null when there is none.
    /// </summary>
    public LoadedCheckpoint? LoadLatest(Action<string>? onCorrupt = null)
    {
        var pointer = Path.Combine(Root, LatestPointer);
        if (!File.Exists(pointer))
        {
            return null;
        }

        var latest = File.ReadAllText(pointer).Trim();
        var candidates = List().Where(d => string.CompareOrdinal(Path.GetFileName(d), latest) <= 0).Reverse();
        foreach (var directory in candidates)
        {
            try
            {
                return Load(directory);
            }
            catch (InvalidDataException e)
            {
                onCorrupt?.Invoke(e.Message);
            }
        }

        return null;
    }

    /// <summary>Loads one checkpoint folder, verifying the hash of every file its manifest lists.</summary>
    public static LoadedCheckpoint Load(string directory)
    {
        var manifestPath = Path.Combine(directory, CheckpointManifest.FileName);
        if (!File.Exists(manifestPath))
        {
            throw new InvalidDataException($"Checkpoint '{directory}' has no {CheckpointManifest.FileName}.");
        }

        CheckpointManifest manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<CheckpointManifest>(File.ReadAllText(manifestPath), CheckpointManifest.JsonOptions)
                ?? throw new InvalidDataException("empty manifest");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Checkpoint manifest '{manifestPath}' is not valid JSON: {e.Message}", e);
        }

        if (manifest.Format != CheckpointManifest.CurrentFormat)
        {
            throw new InvalidDataException($"Checkpoint '{directory}' has format '{manifest.Format}'; expected '{CheckpointManifest.CurrentFormat}'.");
        }

        foreach (var required in new[] { ModelFile, OptimizerFile })
        {
            var path = Path.Combine(directory, required);
            if (!manifest.Files.TryGetValue(required, out var expected) || !File.Exists(path))
            {
                throw new InvalidDataException($"Checkpoint '{directory}' is missing {required}.");
            }

            var actual = Sha256(path);
            if (!string.Equals(actual, expected, StringComparison.Ordinal))
            {
                throw new InvalidDataException($"Checkpoint file '{path}' is corrupted: sha256 {actual}, manifest says {expected}.");
            }
        }

        var weights = SafeTensors.Read(Path.Combine(directory, ModelFile)).Tensors;
        var optimizerState = SafeTensors.Read(Path.Combine(directory, OptimizerFile)).Tensors;
        return new LoadedCheckpoint(directory, manifest, weights, optimizerState);
    }

    /// <summary>Builds the network a checkpoint describes and loads its weights.</summary>
    public static UNet CreateModel(LoadedCheckpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        var model = new UNet(checkpoint.Manifest.Model);
        model.load_state_dict(checkpoint.Weights, strict: true);
        return model;
    }

    public static string StepName(long step) => step.ToString("D9", CultureInfo.InvariantCulture);

    private void Prune()
    {
        var all = List();
        foreach (var old in all.Take(Math.Max(0, all.Count - KeepLast)))
        {
            Directory.Delete(old, recursive: true);
        }
    }

    private static void WriteFile(string path, Action<Stream> write)
    {
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        write(stream);
        stream.Flush(flushToDisk: true);
    }

    private static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
