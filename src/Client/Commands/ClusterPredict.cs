using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using UNetCluster.Client.Cluster;
using UNetCluster.Contracts.Jobs;
using UNetCluster.Data.DataSets;
using UNetCluster.Data.Storage;
using UNetCluster.Model.Checkpoints;
using UNetCluster.Training.Coordination;
using UNetCluster.Training.Jobs;

namespace UNetCluster.Client.Commands;

/// <summary>
/// <c>unet predict --cluster</c>: a prediction job on a running cluster (issue 19). The checkpoint is a training job's
/// (<c>--from-job</c>, its best unless <c>--latest</c>) or a checkpoint folder in the cluster's storage
/// (<c>--checkpoint</c>); the input a stored data set (<c>--dataset</c>), a prefix of images in the cluster's storage
/// (<c>--prefix</c>), or a local file or folder (<c>--input</c>), checked here and uploaded first under
/// <c>uploads/{job}/</c>. <c>--download DIR</c> waits for the job and fetches its outputs, each checked against the
/// sha256 its manifest gives.
/// </summary>
internal sealed class ClusterPredict
{
    public Option<bool> Cluster { get; } = new("--cluster") { Description = "Submit a prediction job to a running cluster instead of predicting here (see --from-job, --dataset, --prefix, --download)." };

    public Option<string?> FromJob { get; } = new("--from-job") { Description = "With --cluster: the training job whose checkpoint is used (its best by validation, else its latest; --latest for its latest)." };

    public Option<string?> DataSet { get; } = new("--dataset") { Description = "With --cluster: a data set in the cluster's storage ('unet dataset upload') whose images are predicted." };

    public Option<string?> Prefix { get; } = new("--prefix") { Description = "With --cluster: a folder (prefix) of PNG and TIFF images in the cluster's storage." };

    public Option<string?> Download { get; } = new("--download") { Description = "With --cluster: wait for the job and download its outputs (checked against their sha256) into this new folder." };

    public Option<string?> Id { get; } = new("--id") { Description = "With --cluster: the job id (default: a new one)." };

    public Option<int?> Workers { get; } = new("--workers") { Description = "With --cluster: workers the job waits for before it starts and uses at most (default: every live silo)." };

    public Option<int?> BlockSize { get; } = new("--block-size") { Description = "Output pixels along a block's side: an image with more tiles than one block is predicted block by block (on a cluster, by every worker); default 2048." };

    public Option<bool> NoOverlays { get; } = new("--no-overlays") { Description = "With --cluster: write no overlay images." };

    public Option<bool> Watch { get; } = new("--watch") { Description = "With --cluster: follow the job until it ends." };

    public JobCommands.Connection Connection { get; } = new();

    public DataSetCommands.Storage Storage { get; } = new();

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { Cluster, FromJob, DataSet, Prefix, Download, Id, Workers, BlockSize, NoOverlays, Watch })
        {
            command.Options.Add(option);
        }

        Connection.AddTo(command);
        Storage.AddTo(command);
    }

    /// <param name="checkpoint">--checkpoint: with --cluster, a checkpoint folder in the cluster's storage.</param>
    /// <param name="input">--input: a local image file or folder, uploaded first.</param>
    public async Task<int> RunAsync(
        ParseResult parse, string? checkpoint, bool latest, string? input, int? tile, double? threshold, bool? instances, bool tta, string? precision,
        int? minObjectPixels, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var sources = new[] { input, parse.GetValue(DataSet), parse.GetValue(Prefix) }.Count(s => s is not null);
        if (sources != 1)
        {
            throw new UserInputException("predict --cluster: expected exactly one of --input (a local image or folder, uploaded first), --dataset (a data set in the cluster's storage) and --prefix (a folder of images in the cluster's storage).");
        }

        if ((checkpoint is null) == (parse.GetValue(FromJob) is null))
        {
            throw new UserInputException("predict --cluster: expected exactly one of --from-job (a training job's checkpoint) and --checkpoint (a checkpoint folder in the cluster's storage, e.g. jobs/j1/checkpoints/000000500).");
        }

        var download = parse.GetValue(Download) is { } folder ? Path.GetFullPath(folder) : null;
        if (download is not null)
        {
            OutputFolder.Require(download, "--download");
        }

        var id = parse.GetValue(Id) ?? string.Create(CultureInfo.InvariantCulture, $"predict-{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(2))}");
        if (JobSpecValidator.JobIdError(id) is { } idError)
        {
            throw new UserInputException($"--id: {idError}");
        }

        IBlobStore? blobs = input is not null || download is not null ? Storage.OpenBlobs(parse) : null;
        var prefix = parse.GetValue(Prefix);
        if (input is not null)
        {
            // Every image is read and checked before anything is uploaded; a refused one leaves storage unchanged.
            var images = DataSetLoader.LoadImages(input);
            var files = File.Exists(input) ? [Path.GetFullPath(input)] : images.Select(i => Path.GetFullPath(i.Source)).Distinct().ToList();
            prefix = $"uploads/{id}/";
            foreach (var file in files)
            {
                await blobs!.WriteAsync(prefix + Path.GetFileName(file), await File.ReadAllBytesAsync(file, cancellationToken).ConfigureAwait(false), BlobCondition.None, cancellationToken)
                    .ConfigureAwait(false);
            }

            await output.WriteLineAsync($"Uploaded {files.Count} file(s) to {blobs!.Describe(prefix)}.").ConfigureAwait(false);
        }

        var spec = new PredictionSpec
        {
            FromJob = parse.GetValue(FromJob),
            Latest = latest,
            Checkpoint = checkpoint,
            DataSet = parse.GetValue(DataSet),
            Prefix = prefix,
            TileSize = tile,
            Tta = tta,
            Precision = precision,
            Threshold = threshold,
            Instances = instances,
            MinObjectPixels = minObjectPixels,
            Overlays = parse.GetValue(NoOverlays) ? false : null,
            BlockSize = parse.GetValue(BlockSize),
            Workers = parse.GetValue(Workers),
        };
        await using var cluster = await Connection.OpenAsync(parse, cancellationToken).ConfigureAwait(false);
        if (await JobCommands.SubmitAsync(cluster, new JobSpec { Prediction = spec }, id, output, error, cancellationToken).ConfigureAwait(false) is not { } jobId)
        {
            return Cli.BadInput;
        }

        if (download is null && !parse.GetValue(Watch))
        {
            return Cli.Ok;
        }

        var code = await JobCommands.WatchAsync(cluster, jobId, output, cancellationToken).ConfigureAwait(false);
        var status = await cluster.GetStatusAsync(jobId, CancellationToken.None).ConfigureAwait(false);   // after Ctrl+C too
        if (download is not null && status.State is JobState.Completed or JobState.CompletedWithErrors)
        {
            var count = await DownloadAsync(blobs!, jobId, download, cancellationToken).ConfigureAwait(false);
            await output.WriteLineAsync($"Downloaded {count} file(s) and manifest.json into {download}.").ConfigureAwait(false);
        }

        return status.State == JobState.CompletedWithErrors ? Cli.Failed : code;
    }

    /// <summary>Fetches a finished prediction job's outputs into <paramref name="folder"/>, each checked against its manifest's sha256.</summary>
    public static async Task<int> DownloadAsync(IBlobStore blobs, string jobId, string folder, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(blobs);
        var stored = await blobs.ReadAsync(PredictionLayout.Manifest(jobId), cancellationToken).ConfigureAwait(false)
            ?? throw new UserInputException($"Job {jobId} has no outputs manifest ({blobs.Describe(PredictionLayout.Manifest(jobId))}): it is not a finished prediction job.");
        var manifest = JsonSerializer.Deserialize<PredictionManifest>(stored.Content, CheckpointManifest.JsonOptions)
            ?? throw new InvalidDataException($"{blobs.Describe(PredictionLayout.Manifest(jobId))} is empty.");
        Directory.CreateDirectory(folder);
        foreach (var file in manifest.Files)
        {
            var name = PredictionLayout.Output(jobId, file.Name);
            var blob = await blobs.ReadAsync(name, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidDataException($"{blobs.Describe(name)} is missing, though the job's manifest lists it.");
            if (Convert.ToHexStringLower(SHA256.HashData(blob.Content)) != file.Sha256 || Path.GetFileName(file.Name) != file.Name)
            {
                throw new InvalidDataException($"{blobs.Describe(name)} does not have the sha256 the job's manifest gives ({file.Sha256}).");
            }

            await File.WriteAllBytesAsync(Path.Combine(folder, file.Name), blob.Content, cancellationToken).ConfigureAwait(false);
        }

        await File.WriteAllBytesAsync(Path.Combine(folder, PredictionLayout.ManifestFile), stored.Content, cancellationToken).ConfigureAwait(false);
        return manifest.Files.Count;
    }
}
