using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using UNetCluster.Data.Storage;
using UNetCluster.Model.Checkpoints;
using UNetCluster.Model.Modules;
using UNetCluster.Model.Optimization;
using static TorchSharp.torch;

namespace UNetCluster.Training.Checkpoints;

/// <summary>A checkpoint as loaded: where it was, the manifest, the model state dict and the optimizer state.</summary>
/// <param name="Directory">Where the checkpoint is: its folder for a local store, its blob prefix URI for Azure.</param>
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
/// Which checkpoints pruning keeps: the last <paramref name="KeepLast"/>, the run's best by validation (the <c>best</c>
/// pointer's) and, where no validation marked one and if asked, the one with the lowest training loss.
/// </summary>
public sealed record CheckpointRetention(int KeepLast = 3, bool KeepBest = true);

/// <summary>A written checkpoint: its step, where it is, whether the <c>latest</c> pointer names it, and its size.</summary>
public sealed record SavedCheckpoint(long Step, string Location, bool IsLatest, long Bytes)
{
    /// <summary>True when the checkpoint was written as the run's best (the <c>best</c> pointer names it).</summary>
    public bool IsBest { get; init; }
}

/// <summary>
/// Checkpoints in a blob store (../shared/DESIGN.md): <c>{checkpoints}/{step:D9}/</c> with <c>model.safetensors</c>,
/// <c>optimizer.safetensors</c> and <c>manifest.json</c> (sha256 of each file), and a <c>latest</c> pointer blob
/// holding the step name. The pointer is written last and conditionally (on the ETag read before the checkpoint's
/// files were written), so a checkpoint exists only once its pointer names it: a crash mid-write leaves the previous
/// one as latest, and a concurrent writer of a newer step is never moved back. Loading verifies every hash and
/// falls back to the previous good checkpoint, reporting the bad one. Pruning keeps the last K and the best.
/// </summary>
public partial class CheckpointStore
{
    public const string ModelFile = CheckpointManifest.ModelFile;
    public const string OptimizerFile = CheckpointManifest.OptimizerFile;
    public const string LatestPointer = "latest";
    public const string BestPointer = "best";
    public const string CheckpointsFolder = "checkpoints";
    private const int MaxPointerAttempts = 16;

    private readonly ILogger _logger;

    /// <param name="blobs">Where the blobs are.</param>
    /// <param name="checkpointsPrefix">The "folder" of the step folders ("" for the store's root).</param>
    /// <param name="latestName">The pointer blob's name.</param>
    public CheckpointStore(IBlobStore blobs, string checkpointsPrefix, string latestName, CheckpointRetention? retention = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(blobs);
        Blobs = blobs;
        CheckpointsPrefix = BlobNames.ValidatePrefix(checkpointsPrefix).TrimEnd('/');
        LatestName = BlobNames.Validate(latestName);
        var slash = LatestName.LastIndexOf('/');
        BestName = slash < 0 ? BestPointer : LatestName[..(slash + 1)] + BestPointer;
        Retention = retention ?? new CheckpointRetention();
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(Retention.KeepLast);
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>DESIGN.md's layout for a job: <c>jobs/{job}/checkpoints/{step}/</c> and <c>jobs/{job}/latest</c>.</summary>
    public static CheckpointStore ForJob(IBlobStore blobs, string jobId, CheckpointRetention? retention = null, ILogger? logger = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(jobId);
        return new CheckpointStore(blobs, $"jobs/{jobId}/{CheckpointsFolder}", $"jobs/{jobId}/{LatestPointer}", retention, logger);
    }

    public IBlobStore Blobs { get; }

    public string CheckpointsPrefix { get; }

    public string LatestName { get; }

    /// <summary>The blob naming the run's best checkpoint by validation (beside <see cref="LatestName"/>).</summary>
    public string BestName { get; }

    public CheckpointRetention Retention { get; }

    public int KeepLast => Retention.KeepLast;

    public static string StepName(long step) => step.ToString("D9", CultureInfo.InvariantCulture);

    /// <summary>Where a step's checkpoint is (a folder path or a URI).</summary>
    public string Describe(long step) => Blobs.Describe(StepPrefix(step));

    /// <summary>Takes a snapshot and saves it, blocking the caller until the pointer is written. Returns its location.</summary>
    public string Save(long step, UNet model, FlatOptimizer optimizer, long seed, JsonElement? training, double? loss, double? threshold = null)
    {
        var snapshot = CheckpointSnapshot.Capture(step, model, optimizer, seed, training, loss, threshold);
        return SaveAsync(snapshot).GetAwaiter().GetResult().Location;
    }

    /// <summary>
    /// Writes the snapshot's files and manifest, then moves the <c>latest</c> pointer to it unless the pointer already
    /// names a later step, then prunes. Storage errors propagate (the pointer is then unchanged).
    /// </summary>
    public async Task<SavedCheckpoint> SaveAsync(CheckpointSnapshot snapshot, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var pointer = await Blobs.ReadAsync(LatestName, cancellationToken).ConfigureAwait(false);
        var prefix = StepPrefix(snapshot.Step);
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            [ModelFile] = Sha256(snapshot.ModelBytes),
            [OptimizerFile] = Sha256(snapshot.OptimizerBytes),
        };
        await Blobs.WriteAsync(BlobNames.Combine(prefix, ModelFile), snapshot.ModelBytes, BlobCondition.None, cancellationToken).ConfigureAwait(false);
        await Blobs.WriteAsync(BlobNames.Combine(prefix, OptimizerFile), snapshot.OptimizerBytes, BlobCondition.None, cancellationToken).ConfigureAwait(false);
        var manifest = new CheckpointManifest(
            CheckpointManifest.CurrentFormat, snapshot.Step, snapshot.Seed, snapshot.Model, snapshot.Optimizer, snapshot.Training, files,
            DateTimeOffset.UtcNow, snapshot.Loss, snapshot.Threshold)
        {
            Selection = snapshot.Selection,
            MinObjectPixels = snapshot.MinObjectPixels,
        };
        await Blobs.WriteAsync(BlobNames.Combine(prefix, CheckpointManifest.FileName),
            JsonSerializer.SerializeToUtf8Bytes(manifest, CheckpointManifest.JsonOptions), BlobCondition.None, cancellationToken).ConfigureAwait(false);

        var isLatest = await MovePointerAsync(snapshot.Step, pointer, cancellationToken).ConfigureAwait(false);
        if (snapshot.Selection is not null)
        {
            // Each best is better than the one before it (the coordinator decides), so the pointer simply moves to it.
            await Blobs.WriteAsync(BestName, Encoding.UTF8.GetBytes(StepName(snapshot.Step) + "\n"), BlobCondition.None, cancellationToken).ConfigureAwait(false);
        }

        try
        {
            await PruneAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogPruneFailed(CheckpointsPrefix, e);
        }

        return new SavedCheckpoint(snapshot.Step, Blobs.Describe(prefix), isLatest, snapshot.Size) { IsBest = snapshot.Selection is not null };
    }

    /// <summary>The step the <c>best</c> pointer names, or null (no validation marked a best checkpoint).</summary>
    public async Task<long?> ReadBestStepAsync(CancellationToken cancellationToken = default) =>
        ParsePointer(await Blobs.ReadAsync(BestName, cancellationToken).ConfigureAwait(false));

    /// <summary>
    /// Loads the run's best checkpoint (the one the <c>best</c> pointer names, verified), or null when no validation
    /// marked one; a best checkpoint that is missing or fails its hashes is an error, never silently another one.
    /// </summary>
    public async Task<LoadedCheckpoint?> LoadBestAsync(CancellationToken cancellationToken = default)
    {
        if (await ReadBestStepAsync(cancellationToken).ConfigureAwait(false) is not { } best)
        {
            return null;
        }

        try
        {
            return await LoadAsync(best, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException(
                $"The best checkpoint (step {best}, named by {Blobs.Describe(BestName)}) cannot be loaded: {e.Message} Use the latest checkpoint instead.", e);
        }
    }

    /// <summary>The step the <c>latest</c> pointer names, or null.</summary>
    public async Task<long?> ReadLatestStepAsync(CancellationToken cancellationToken = default) =>
        ParsePointer(await Blobs.ReadAsync(LatestName, cancellationToken).ConfigureAwait(false));

    /// <summary>The steps that have any checkpoint file (complete or not), oldest first.</summary>
    public async Task<IReadOnlyList<long>> ListStepsAsync(CancellationToken cancellationToken = default) =>
        (await ListStepFilesAsync(cancellationToken).ConfigureAwait(false)).Keys.ToList();

    /// <summary>Synchronous <see cref="LoadLatestAsync"/>.</summary>
    public LoadedCheckpoint? LoadLatest(Action<string>? onCorrupt = null) => LoadLatestAsync(onCorrupt).GetAwaiter().GetResult();

    /// <summary>
    /// Loads the checkpoint the <c>latest</c> pointer names; if its files are missing or their hashes do not match,
    /// reports it (<paramref name="onCorrupt"/> and the log) and tries the earlier ones. Null when there is none.
    /// </summary>
    public async Task<LoadedCheckpoint?> LoadLatestAsync(Action<string>? onCorrupt = null, CancellationToken cancellationToken = default)
    {
        var latest = await ReadLatestStepAsync(cancellationToken).ConfigureAwait(false);
        if (latest is null)
        {
            return null;
        }

        var steps = await ListStepsAsync(cancellationToken).ConfigureAwait(false);
        if (!steps.Contains(latest.Value))
        {
            // A pointer is written after its checkpoint, so this one was damaged or its folder deleted by hand.
            var message = $"the '{LatestPointer}' pointer {Blobs.Describe(LatestName)} names step {latest}, which has no checkpoint";
            LogCorrupt(Describe(latest.Value), message);
            onCorrupt?.Invoke(message);
        }

        foreach (var step in steps.Where(s => s <= latest).Reverse())
        {
            try
            {
                return await LoadAsync(step, cancellationToken).ConfigureAwait(false);
            }
            catch (InvalidDataException e)
            {
                LogCorrupt(Describe(step), e.Message);
                onCorrupt?.Invoke(e.Message);
            }
        }

        return null;
    }

    /// <summary>Loads one step's checkpoint, verifying the hash of every file; <see cref="InvalidDataException"/> if it is bad.</summary>
    public Task<LoadedCheckpoint> LoadAsync(long step, CancellationToken cancellationToken = default) =>
        LoadFolderAsync(Blobs, StepPrefix(step), cancellationToken);

    /// <summary>Rewrites a checkpoint's manifest with a calibrated decision threshold (weights and hashes unchanged).</summary>
    public async Task<CheckpointManifest> SetThresholdAsync(long step, double threshold, CancellationToken cancellationToken = default)
    {
        var name = BlobNames.Combine(StepPrefix(step), CheckpointManifest.FileName);
        var read = await Blobs.ReadAsync(name, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidDataException($"Checkpoint '{Describe(step)}' has no {CheckpointManifest.FileName}.");
        var manifest = ParseManifest(read.Content, Blobs.Describe(name)) with { Threshold = threshold };
        await Blobs.WriteAsync(name, JsonSerializer.SerializeToUtf8Bytes(manifest, CheckpointManifest.JsonOptions), BlobCondition.IfMatch(read.ETag), cancellationToken)
            .ConfigureAwait(false);
        return manifest;
    }

    /// <summary>Builds the network a checkpoint describes and loads its weights.</summary>
    public static UNet CreateModel(LoadedCheckpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        var model = new UNet(checkpoint.Manifest.Model);
        model.load_state_dict(checkpoint.Weights, strict: true);
        return model;
    }

    /// <summary>
    /// Loads the checkpoint whose files are under <paramref name="folder"/> of <paramref name="blobs"/> (a step's folder
    /// in any store), verifying the hash of every file; <see cref="InvalidDataException"/> if it is missing or bad.
    /// </summary>
    public static Task<LoadedCheckpoint> LoadAtAsync(IBlobStore blobs, string folder, CancellationToken cancellationToken = default) =>
        LoadFolderAsync(blobs, folder, cancellationToken);

    /// <summary>
    /// Checks the checkpoint under <paramref name="folder"/> without loading it: its manifest parses and has the current
    /// format, and its model file is there with the sha256 the manifest gives. Returns the manifest and the sha256 of the
    /// manifest's bytes (which name the checkpoint exactly); <see cref="InvalidDataException"/> naming what is wrong.
    /// </summary>
    public static async Task<(CheckpointManifest Manifest, string ManifestSha256)> VerifyAtAsync(IBlobStore blobs, string folder, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(blobs);
        var location = blobs.Describe(folder);
        var manifestName = BlobNames.Combine(folder, CheckpointManifest.FileName);
        var manifestBlob = await blobs.ReadAsync(manifestName, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidDataException($"Checkpoint '{location}' does not exist: it has no {CheckpointManifest.FileName}.");
        var manifest = ParseManifest(manifestBlob.Content, blobs.Describe(manifestName));
        if (manifest.Format != CheckpointManifest.CurrentFormat)
        {
            throw new InvalidDataException($"Checkpoint '{location}' has format '{manifest.Format}'; expected '{CheckpointManifest.CurrentFormat}'.");
        }

        var model = BlobNames.Combine(folder, ModelFile);
        var blob = await blobs.ReadAsync(model, cancellationToken).ConfigureAwait(false);
        if (!manifest.Files.TryGetValue(ModelFile, out var expected) || blob is null)
        {
            throw new InvalidDataException($"Checkpoint '{location}' is missing {ModelFile}.");
        }

        var actual = Sha256(blob.Content);
        if (!string.Equals(actual, expected, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"Checkpoint file '{blobs.Describe(model)}' is corrupted: sha256 {actual}, manifest says {expected}.");
        }

        return (manifest, Sha256(manifestBlob.Content));
    }

    /// <summary>The folder (blob prefix) of a step's checkpoint in this store.</summary>
    public string FolderOf(long step) => StepPrefix(step);

    /// <summary>Loads the checkpoint whose files are under <paramref name="folder"/> ("" for the store's root).</summary>
    protected static async Task<LoadedCheckpoint> LoadFolderAsync(IBlobStore blobs, string folder, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(blobs);
        var location = blobs.Describe(folder);
        var manifestName = BlobNames.Combine(folder, CheckpointManifest.FileName);
        var manifestBlob = await blobs.ReadAsync(manifestName, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidDataException($"Checkpoint '{location}' has no {CheckpointManifest.FileName}.");
        var manifest = ParseManifest(manifestBlob.Content, blobs.Describe(manifestName));
        if (manifest.Format != CheckpointManifest.CurrentFormat)
        {
            throw new InvalidDataException($"Checkpoint '{location}' has format '{manifest.Format}'; expected '{CheckpointManifest.CurrentFormat}'.");
        }

        var contents = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var required in new[] { ModelFile, OptimizerFile })
        {
            var name = BlobNames.Combine(folder, required);
            var blob = await blobs.ReadAsync(name, cancellationToken).ConfigureAwait(false);
            if (!manifest.Files.TryGetValue(required, out var expected) || blob is null)
            {
                throw new InvalidDataException($"Checkpoint '{location}' is missing {required}.");
            }

            var actual = Sha256(blob.Content);
            if (!string.Equals(actual, expected, StringComparison.Ordinal))
            {
                throw new InvalidDataException($"Checkpoint file '{blobs.Describe(name)}' is corrupted: sha256 {actual}, manifest says {expected}.");
            }

            contents[required] = blob.Content;
        }

        var weights = SafeTensors.Read(contents[ModelFile], blobs.Describe(BlobNames.Combine(folder, ModelFile))).Tensors;
        var optimizerState = SafeTensors.Read(contents[OptimizerFile], blobs.Describe(BlobNames.Combine(folder, OptimizerFile))).Tensors;
        return new LoadedCheckpoint(location, manifest, weights, optimizerState);
    }

    private string StepPrefix(long step) => BlobNames.Combine(CheckpointsPrefix, StepName(step));

    private async Task<bool> MovePointerAsync(long step, BlobContent? pointer, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < MaxPointerAttempts; attempt++)
        {
            var current = ParsePointer(pointer);
            if (current > step && await HasManifestAsync(current.Value, cancellationToken).ConfigureAwait(false))
            {
                LogNotLatest(step, current.Value);
                return false;
            }

            try
            {
                await Blobs.WriteAsync(LatestName, Encoding.UTF8.GetBytes(StepName(step) + "\n"), BlobCondition.Replacing(pointer), cancellationToken)
                    .ConfigureAwait(false);
                return true;
            }
            catch (BlobConflictException)
            {
                pointer = await Blobs.ReadAsync(LatestName, cancellationToken).ConfigureAwait(false);
            }
        }

        throw new BlobConflictException($"The pointer '{Blobs.Describe(LatestName)}' kept changing under {MaxPointerAttempts} attempts to move it to step {step}.");
    }

    /// <summary>
    /// True when a step's manifest is there. A pointer naming a step without one is dangling (edited or its folder
    /// deleted by hand): a new checkpoint replaces it, or no checkpoint would ever become the latest again.
    /// </summary>
    private async Task<bool> HasManifestAsync(long step, CancellationToken cancellationToken) =>
        await Blobs.ReadAsync(BlobNames.Combine(StepPrefix(step), CheckpointManifest.FileName), cancellationToken).ConfigureAwait(false) is not null;

    /// <summary>Deletes every step older than the latest except the last K complete ones, the best one and the latest.</summary>
    private async Task PruneAsync(CancellationToken cancellationToken)
    {
        var latest = await ReadLatestStepAsync(cancellationToken).ConfigureAwait(false);
        if (latest is null)
        {
            return;
        }

        var steps = await ListStepFilesAsync(cancellationToken).ConfigureAwait(false);
        var complete = steps.Where(kv => kv.Key <= latest && kv.Value.Contains(CheckpointManifest.FileName)).Select(kv => kv.Key).ToList();
        var keep = new HashSet<long>(complete.TakeLast(Retention.KeepLast)) { latest.Value };
        if (await ReadBestStepAsync(cancellationToken).ConfigureAwait(false) is { } validated)
        {
            keep.Add(validated);   // the best by validation, whatever its loss
        }
        else if (Retention.KeepBest && await BestAsync(complete, cancellationToken).ConfigureAwait(false) is { } best)
        {
            keep.Add(best);
        }

        foreach (var (step, files) in steps.Where(kv => kv.Key < latest && !keep.Contains(kv.Key)))
        {
            // The manifest goes first: a half-deleted checkpoint is incomplete, never a torn one that looks whole.
            foreach (var file in files.OrderBy(f => f == CheckpointManifest.FileName ? 0 : 1))
            {
                await Blobs.DeleteAsync(BlobNames.Combine(StepPrefix(step), file), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task<long?> BestAsync(IReadOnlyList<long> steps, CancellationToken cancellationToken)
    {
        (long Step, double Loss)? best = null;
        foreach (var step in steps)
        {
            var name = BlobNames.Combine(StepPrefix(step), CheckpointManifest.FileName);
            var blob = await Blobs.ReadAsync(name, cancellationToken).ConfigureAwait(false);
            if (blob is null)
            {
                continue;
            }

            try
            {
                if (ParseManifest(blob.Content, name).Loss is { } loss && (best is null || loss < best.Value.Loss))
                {
                    best = (step, loss);
                }
            }
            catch (InvalidDataException)
            {
                // An unreadable manifest is not a candidate for "best"; loading reports it.
            }
        }

        return best?.Step;
    }

    /// <summary>Step -> file names under its folder, ordered by step.</summary>
    private async Task<SortedDictionary<long, List<string>>> ListStepFilesAsync(CancellationToken cancellationToken)
    {
        var root = CheckpointsPrefix.Length == 0 ? "" : CheckpointsPrefix + "/";
        var result = new SortedDictionary<long, List<string>>();
        foreach (var item in await Blobs.ListAsync(root, cancellationToken).ConfigureAwait(false))
        {
            var rest = item.Name[root.Length..];
            var slash = rest.IndexOf('/', StringComparison.Ordinal);
            if (slash != 9 || !rest[..9].All(char.IsAsciiDigit))
            {
                continue;
            }

            var step = long.Parse(rest[..9], CultureInfo.InvariantCulture);
            if (!result.TryGetValue(step, out var files))
            {
                result[step] = files = [];
            }

            files.Add(rest[(slash + 1)..]);
        }

        return result;
    }

    private static long? ParsePointer(BlobContent? pointer)
    {
        if (pointer is null)
        {
            return null;
        }

        var text = Encoding.UTF8.GetString(pointer.Content).Trim();
        return text.Length == 9 && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var step) ? step : null;
    }

    private static CheckpointManifest ParseManifest(byte[] content, string location)
    {
        try
        {
            return JsonSerializer.Deserialize<CheckpointManifest>(content, CheckpointManifest.JsonOptions)
                ?? throw new InvalidDataException($"Checkpoint manifest '{location}' is empty.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Checkpoint manifest '{location}' is not valid JSON: {e.Message}", e);
        }
    }

    private static string Sha256(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));

    [LoggerMessage(Level = LogLevel.Warning, Message = "Checkpoint {Location} is corrupted ({Reason}); trying the previous one")]
    private partial void LogCorrupt(string location, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Checkpoint of step {Step} was written, but the latest pointer already names the later step {Latest}")]
    private partial void LogNotLatest(long step, long latest);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Pruning old checkpoints under '{Prefix}' failed; they are kept")]
    private partial void LogPruneFailed(string prefix, Exception exception);
}
