using UNetCluster.Contracts.Jobs;
using UNetCluster.Data.DataSets;
using UNetCluster.Data.Imaging;
using UNetCluster.Data.Storage;
using UNetCluster.Model;
using UNetCluster.Model.Inference;
using UNetCluster.Model.Training;
using UNetCluster.Training.Checkpoints;

namespace UNetCluster.Training.Jobs;

/// <summary>
/// Checks a prediction job (<see cref="JobSpec.Prediction"/>) before anything is created: one checkpoint (a job's best or
/// latest, or a folder in storage) that exists and passes its sha256 check, one input (a stored data set, or a prefix
/// with at least one PNG or TIFF) of the network's channel count, and options the network can take (a valid tile size
/// for its depth, a batch that fits memory). Each error names the field and says what is accepted. The spec to store has
/// the checkpoint resolved to one step's folder and the sha256 of its manifest, so that every worker and any later
/// coordinator use exactly that checkpoint.
/// </summary>
public sealed class PredictionSpecValidator(JobStorage storage)
{
    private IBlobStore Blobs => storage.Blobs;

    public async Task<(IReadOnlyList<string> Errors, JobSpec Spec)> CheckAsync(JobSpec spec, string? jobId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var prediction = spec.Prediction ?? throw new ArgumentException("The spec is not a prediction job's.", nameof(spec));
        var errors = new List<string>();
        if (JobSpecValidator.JobIdError(jobId) is { } idError)
        {
            errors.Add(idError);
        }

        Options(prediction, errors);
        var folder = await CheckpointFolderAsync(prediction, errors, cancellationToken).ConfigureAwait(false);
        Model.Checkpoints.CheckpointManifest? manifest = null;
        string? sha = null;
        if (folder is not null)
        {
            try
            {
                (manifest, sha) = await CheckpointStore.VerifyAtAsync(Blobs, folder, cancellationToken).ConfigureAwait(false);
            }
            catch (InvalidDataException e)
            {
                errors.Add($"checkpoint: {e.Message}");
            }
        }

        if (manifest is not null)
        {
            var tile = prediction.TileSize ?? CheckpointPrediction.TrainingTileSize(manifest);
            if (!TileGeometry.IsValidInputSize(manifest.Model, tile))
            {
                var (below, above) = TileGeometry.NearestValidInputSizes(manifest.Model, tile);
                errors.Add($"tileSize {tile} is invalid for the checkpoint's network (depth {manifest.Model.Depth}): expected a valid size such as {string.Join(" or ", new[] { below, above }.Where(s => s is not null))}.");
            }
            else
            {
                var needs = MemoryEstimate.InferenceBytes(manifest.Model, tile, prediction.BatchSize ?? OverlapTilePredictor.DefaultBatchSize);
                var available = MemoryEstimate.AvailableBytes() / 2;
                if (needs > available)
                {
                    errors.Add($"tileSize {tile} with batchSize {prediction.BatchSize ?? OverlapTilePredictor.DefaultBatchSize} needs about {MemoryEstimate.Describe(needs)} per forward pass, more than the {MemoryEstimate.Describe(available)} allowed; expected a smaller tileSize or batchSize.");
                }
            }
        }

        await InputAsync(prediction, manifest?.Model.InputChannels, errors, cancellationToken).ConfigureAwait(false);
        if (errors.Count > 0)
        {
            return (errors, spec);
        }

        return (errors, spec with
        {
            DataSet = prediction.DataSet ?? prediction.Prefix!,
            Prediction = prediction with { Checkpoint = folder, CheckpointSha256 = sha },
        });
    }

    private static void Options(PredictionSpec prediction, List<string> errors)
    {
        if (prediction.BatchSize is <= 0 or > 64)
        {
            errors.Add($"batchSize {prediction.BatchSize} is invalid: expected 1 to 64 tiles per forward pass.");
        }

        if (prediction.BlockSize is < 1 or > 65536)
        {
            errors.Add($"blockSize {prediction.BlockSize} is invalid: expected 1 to 65536 output pixels along a block's side.");
        }

        if (prediction.Threshold is { } threshold && !(threshold is > 0 and < 1))
        {
            errors.Add($"threshold {threshold} is invalid: expected a probability strictly between 0 and 1.");
        }

        if (prediction.Precision is { } precision && precision.ToLowerInvariant() is not ("fp32" or "bf16"))
        {
            errors.Add($"precision '{precision}' is invalid: expected fp32 or bf16.");
        }

        if (prediction.MinObjectPixels is < 0)
        {
            errors.Add($"minObjectPixels {prediction.MinObjectPixels} is invalid: expected 0 or more pixels.");
        }

        if (prediction.Workers is <= 0 or > 1024)
        {
            errors.Add($"workers {prediction.Workers} is invalid: expected an integer from 1 to 1024 (or none for every live worker).");
        }

        if (prediction.TileSize is <= 0 or > TileGeometry.MaximumInputSize)
        {
            errors.Add($"tileSize {prediction.TileSize} is invalid: expected a valid tile size of at most {TileGeometry.MaximumInputSize}.");
        }
    }

    /// <summary>The checkpoint's folder: the one named, or the named job's best (else latest) or latest; null with an error.</summary>
    private async Task<string?> CheckpointFolderAsync(PredictionSpec prediction, List<string> errors, CancellationToken cancellationToken)
    {
        if ((prediction.FromJob is null) == (prediction.Checkpoint is null))
        {
            errors.Add("checkpoint: expected exactly one of fromJob (a training job's best or latest checkpoint) and checkpoint (a checkpoint folder in the cluster's storage).");
            return null;
        }

        if (prediction.Checkpoint is { } named)
        {
            try
            {
                return BlobNames.Validate(named.TrimEnd('/'));
            }
            catch (ArgumentException e)
            {
                errors.Add($"checkpoint '{named}' is not a valid storage location: {e.Message}");
                return null;
            }
        }

        var job = prediction.FromJob!;
        if (JobSpecValidator.JobIdError(job) is not null)
        {
            errors.Add($"fromJob '{job}' is not a job id: expected 1 to 64 characters of a-z, 0-9, '.', '_' or '-'.");
            return null;
        }

        var store = storage.Checkpoints(job);
        var step = prediction.Latest
            ? await store.ReadLatestStepAsync(cancellationToken).ConfigureAwait(false)
            : await store.ReadBestStepAsync(cancellationToken).ConfigureAwait(false) ?? await store.ReadLatestStepAsync(cancellationToken).ConfigureAwait(false);
        if (step is null)
        {
            errors.Add($"fromJob '{job}' has no checkpoint in the cluster's storage ({Blobs.Describe(store.CheckpointsPrefix)}): expected a training job that wrote one ('unet list' shows the jobs).");
            return null;
        }

        return store.FolderOf(step.Value);
    }

    private async Task InputAsync(PredictionSpec prediction, int? channels, List<string> errors, CancellationToken cancellationToken)
    {
        if ((prediction.DataSet is null) == (prediction.Prefix is null))
        {
            errors.Add("input: expected exactly one of dataSet (a data set uploaded with 'unet dataset upload') and prefix (a folder of PNG or TIFF images in the cluster's storage).");
            return;
        }

        if (prediction.DataSet is { } name)
        {
            DataSetManifest? manifest = null;
            try
            {
                manifest = await new DataSetStore(Blobs).GetAsync(name, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is ArgumentException or InvalidDataException)
            {
                errors.Add($"dataSet '{name}': {e.Message}");
                return;
            }

            if (manifest is null)
            {
                errors.Add($"dataSet '{name}' is not in the cluster's storage: expected a data set uploaded with 'unet dataset upload' ('unet dataset list' shows them).");
            }
            else if (channels is { } expected && manifest.Channels != expected)
            {
                errors.Add($"dataSet '{name}' has images of {DataSetLoader.Channels(manifest.Channels)}, but the checkpoint's network takes {DataSetLoader.Channels(expected)}.");
            }

            return;
        }

        var prefix = prediction.Prefix!;
        try
        {
            BlobNames.ValidatePrefix(prefix);
        }
        catch (ArgumentException e)
        {
            errors.Add($"prefix '{prefix}' is not a valid storage location: {e.Message}");
            return;
        }

        if (prefix.Length == 0 || prefix.StartsWith(PredictionLayout.Root + "/", StringComparison.Ordinal) || prefix.StartsWith("jobs/", StringComparison.Ordinal))
        {
            errors.Add($"prefix '{prefix}' is invalid: expected a folder of images, not the storage's root, a job's folder or predictions.");
            return;
        }

        var listed = await Blobs.ListAsync(prefix, cancellationToken).ConfigureAwait(false);
        if (!listed.Any(b => ImageReader.IsSupported(b.Name)))
        {
            errors.Add($"prefix '{prefix}' holds no image ({Blobs.Describe(prefix)}): expected PNG or TIFF files (.png, .tif, .tiff) under it.");
        }
    }
}
