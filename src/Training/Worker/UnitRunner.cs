using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using UNetCluster.Contracts.Messages;
using UNetCluster.Data.DataSets;
using UNetCluster.Data.Imaging;
using UNetCluster.Data.Storage;
using UNetCluster.Model.Checkpoints;
using UNetCluster.Model.Inference;
using UNetCluster.Model.Modules;
using UNetCluster.Model.Training;
using UNetCluster.Training.Checkpoints;
using UNetCluster.Training.Jobs;
using UNetCluster.Training.Settings;
using TorchSharp;
using static TorchSharp.torch;

namespace UNetCluster.Training.Worker;

/// <summary>
/// A worker's part of a prediction job: it runs one unit (<see cref="PredictionUnit"/>) at a time with the job's
/// checkpoint, loaded once per silo and job (its manifest's sha256 checked against the plan's), and writes what the
/// unit makes under <c>predictions/{job}/</c> (<see cref="PredictionLayout"/>): a file's pages' outputs, a block's
/// maps, or an assembled page's outputs, then the unit's done marker, written only if absent. A unit whose marker is
/// there already (another worker did it and died before reporting) is reported from the marker, not done again. The
/// files are those <c>unet predict</c> writes (<see cref="PredictionWriter"/>), byte for byte.
/// </summary>
public sealed partial class UnitRunner(TorchThread torch, JobStorage storage, DataSettings data, ILogger<UnitRunner> logger)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly ConcurrentDictionary<string, PredictionModel> _models = new(StringComparer.Ordinal);   // by job
    private CachedPage? _page;   // the page of the last block unit, normalised: a page's blocks often follow each other here

    private IBlobStore Blobs => storage.Blobs;

    /// <summary>
    /// Runs a unit and returns its report. An input the reader refuses (or of the wrong channel count, or constant) is
    /// the report's <see cref="UnitReport.Error"/>, marked done like an output; anything else (storage away, a checkpoint
    /// that fails its check) is thrown, and the coordinator hands the unit out again.
    /// </summary>
    public async Task<UnitReport> RunAsync(PredictionPlan plan, PredictionUnit unit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(unit);
        var clock = Stopwatch.StartNew();
        var marker = PredictionLayout.Marker(plan.JobId, unit.Id);
        if (await ReadMarkerAsync(marker, cancellationToken).ConfigureAwait(false) is { } done)
        {
            return done;
        }

        var model = await ModelAsync(plan, cancellationToken).ConfigureAwait(false);
        UnitReport report;
        try
        {
            report = unit.Kind switch
            {
                UnitKind.File => await FileAsync(plan.JobId, unit, model, cancellationToken).ConfigureAwait(false),
                UnitKind.Block => await BlockAsync(plan.JobId, unit, model, cancellationToken).ConfigureAwait(false),
                _ => await AssembleAsync(plan.JobId, unit, model, cancellationToken).ConfigureAwait(false),
            };
        }
        catch (Exception e) when (e is InvalidImageException or InvalidDataException or DataSetValidationException)
        {
            report = new UnitReport(unit.Id, [], Error: e.Message);
        }

        report = report with { Seconds = clock.Elapsed.TotalSeconds };
        try
        {
            await Blobs.WriteAsync(marker, JsonSerializer.SerializeToUtf8Bytes(report, Json), BlobCondition.IfAbsent, cancellationToken).ConfigureAwait(false);
        }
        catch (BlobConflictException)
        {
            // Another worker finished the same unit first (it was handed out again): its files are these same bytes.
            return await ReadMarkerAsync(marker, cancellationToken).ConfigureAwait(false) ?? report;
        }

        if (unit.Kind == UnitKind.Assemble)
        {
            for (var block = 0; block < unit.Blocks; block++)
            {
                await Blobs.DeleteAsync(PredictionLayout.BlockMaps(plan.JobId, BlockId(unit, block)), cancellationToken).ConfigureAwait(false);
            }
        }

        return report;
    }

    /// <summary>Drops the job's model (the job ended here).</summary>
    public void Release(string jobId)
    {
        if (_page is { } page && page.Key.StartsWith(jobId + "\n", StringComparison.Ordinal))
        {
            DropPage();
        }

        if (_models.TryRemove(jobId, out var model))
        {
            _ = torch.RunAsync(model.Network.Dispose);
        }
    }

    private async Task<UnitReport?> ReadMarkerAsync(string marker, CancellationToken cancellationToken) =>
        await Blobs.ReadAsync(marker, cancellationToken).ConfigureAwait(false) is { } stored
            ? JsonSerializer.Deserialize<UnitReport>(stored.Content, Json)
            : null;

    private async Task<UnitReport> FileAsync(string jobId, PredictionUnit unit, PredictionModel model, CancellationToken cancellationToken)
    {
        var phase = Stopwatch.StartNew();
        var pages = await ReadAsync(unit, model, cancellationToken).ConfigureAwait(false);
        var readSeconds = phase.Elapsed.TotalSeconds;
        double computeSeconds = 0, writeSeconds = 0;
        var files = new List<OutputFile>();
        var split = new List<PageSize>();
        var images = 0;
        for (var page = 0; page < pages.Count; page++)
        {
            var image = pages[page];
            if (model.Predictor.Blocks(image.Height, image.Width).Count > 1)
            {
                split.Add(new PageSize(page, image.Width, image.Height, model.Predictor.Blocks(image.Height, image.Width).Count));
                continue;
            }

            phase.Restart();
            var maps = await torch.RunAsync(() =>
            {
                using var scope = NewDisposeScope();
                var input = TrainingData.ImageTensor(image, model.Normalisation);
                var probabilities = model.Tta ? model.Predictor.PredictProbabilitiesAugmented(input) : model.Predictor.PredictProbabilities(input);
                return PixelMaps.From(probabilities, model.Threshold, model.Classes);
            }).ConfigureAwait(false);
            computeSeconds += phase.Elapsed.TotalSeconds;
            phase.Restart();
            files.AddRange(await WriteAsync(jobId, PredictionLayout.PageStem(unit.Stem, page), image, maps, model, cancellationToken).ConfigureAwait(false));
            writeSeconds += phase.Elapsed.TotalSeconds;
            images++;
        }

        if (split.Count > 0 && model.Tta)
        {
            throw new InvalidDataException(
                $"{unit.Blob}: {string.Join(", ", split.Select(p => $"page {p.Page} ({p.Width}x{p.Height})"))} is larger than one block " +
                "of output tiles and is predicted in blocks, which --tta does not do; predict it without --tta, or with a --block-size that holds it.");
        }

        LogFileUnit(jobId, unit.Id, readSeconds, computeSeconds, writeSeconds);
        return new UnitReport(unit.Id, files, Split: split, Images: images);
    }

    private async Task<UnitReport> BlockAsync(string jobId, PredictionUnit unit, PredictionModel model, CancellationToken cancellationToken)
    {
        var page = await PageAsync(jobId, unit, model, cancellationToken).ConfigureAwait(false);
        var image = page.Image;
        var blocks = model.Predictor.Blocks(image.Height, image.Width);
        RequireBlocks(unit, blocks.Count, image);
        var maps = await torch.RunAsync(() =>
        {
            using var scope = NewDisposeScope();
            return PixelMaps.From(model.Predictor.PredictBlock(page.Input, blocks[unit.Block]), model.Threshold, model.Classes);
        }).ConfigureAwait(false);
        await Blobs.WriteAsync(PredictionLayout.BlockMaps(jobId, unit.Id), maps.Serialize(), BlobCondition.None, cancellationToken).ConfigureAwait(false);
        return new UnitReport(unit.Id, []);
    }

    private async Task<UnitReport> AssembleAsync(string jobId, PredictionUnit unit, PredictionModel model, CancellationToken cancellationToken)
    {
        var image = _page is { } cached && cached.Key == PageKey(jobId, unit) ? cached.Image : (await ReadAsync(unit, model, cancellationToken).ConfigureAwait(false))[unit.Page];
        DropPage();   // the page is done once assembled: its normalised copy goes before the maps are stitched
        var blocks = model.Predictor.Blocks(image.Height, image.Width);
        RequireBlocks(unit, blocks.Count, image);
        var parts = new List<(long, long, PixelMaps)>();
        for (var k = 0; k < blocks.Count; k++)
        {
            var name = PredictionLayout.BlockMaps(jobId, BlockId(unit, k));
            var stored = await Blobs.ReadAsync(name, cancellationToken).ConfigureAwait(false)
                ?? throw new IOException($"The maps of block {k} of {unit.Blob} page {unit.Page} ({Blobs.Describe(name)}) are missing.");
            var part = PixelMaps.Deserialize(stored.Content, Blobs.Describe(name));
            if (part.Width != blocks[k].Width || part.Height != blocks[k].Height)
            {
                throw new IOException($"{Blobs.Describe(name)} holds {part.Width}x{part.Height} pixels; block {k} has {blocks[k].Width}x{blocks[k].Height}.");
            }

            parts.Add((blocks[k].Top, blocks[k].Left, part));
        }

        var maps = PixelMaps.Stitch(image.Width, image.Height, model.Network.Options.Classes, parts);
        parts.Clear();
        var files = await WriteAsync(jobId, PredictionLayout.PageStem(unit.Stem, unit.Page), image, maps, model, cancellationToken).ConfigureAwait(false);
        return new UnitReport(unit.Id, files, Images: 1);
    }

    private static string PageKey(string jobId, PredictionUnit unit) => $"{jobId}\n{unit.Blob}\n{unit.Sha256}\n{unit.Page}";

    /// <summary>
    /// The unit's page and its normalised tensor: fetched, decoded and normalised once for all the page's blocks that
    /// come here in a row (the whole page's normalisation is what makes a block equal its region of the whole image).
    /// </summary>
    private async Task<CachedPage> PageAsync(string jobId, PredictionUnit unit, PredictionModel model, CancellationToken cancellationToken)
    {
        var key = PageKey(jobId, unit);
        if (_page is { } cached && cached.Key == key)
        {
            return cached;
        }

        DropPage();
        var image = (await ReadAsync(unit, model, cancellationToken).ConfigureAwait(false))[unit.Page];
        var input = await torch.RunAsync(() => TrainingData.ImageTensor(image, model.Normalisation)).ConfigureAwait(false);
        _page = new CachedPage(key, image, input);
        return _page;
    }

    private void DropPage()
    {
        _page?.Input.Dispose();
        _page = null;
    }

    private static string BlockId(PredictionUnit unit, int block) =>
        PredictionLayout.BlockUnit(PredictionLayout.FileUnitOf(unit.Id), unit.Page, block);

    private static void RequireBlocks(PredictionUnit unit, int blocks, GrayImage image)
    {
        if (blocks != unit.Blocks)
        {
            throw new IOException($"{unit.Blob} page {unit.Page} ({image.Width}x{image.Height}) has {blocks} blocks now; the job planned {unit.Blocks} (the file changed since).");
        }
    }

    /// <summary>The unit's file, fetched and checked (size and sha256 when known), as pages of the model's channel count.</summary>
    private async Task<IReadOnlyList<GrayImage>> ReadAsync(PredictionUnit unit, PredictionModel model, CancellationToken cancellationToken)
    {
        var where = Blobs.Describe(unit.Blob);
        var stored = await Blobs.ReadAsync(unit.Blob, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidDataException($"{where} does not exist (any more).");
        if (unit.Bytes is { } bytes && stored.Content.LongLength != bytes)
        {
            throw new InvalidDataException($"{where} has {stored.Content.LongLength} bytes; its data set's manifest says {bytes}.");
        }

        if (unit.Sha256 is { } sha && Convert.ToHexStringLower(SHA256.HashData(stored.Content)) != sha)
        {
            throw new InvalidDataException($"{where} does not have the sha256 its data set's manifest gives ({sha}): it changed or is corrupted.");
        }

        var pages = ImageReader.ReadPages(unit.Blob, stored.Content, ImageLimits.For(data.MaxImagePixels));
        foreach (var image in pages)
        {
            var page = pages.Count > 1 ? $"{where} page {image.Page}" : where;
            if (image.Channels != model.Network.Options.InputChannels)
            {
                throw new InvalidDataException(
                    $"{page} has {DataSetLoader.Channels(image.Channels)}, but the checkpoint's network takes {DataSetLoader.Channels(model.Network.Options.InputChannels)}.");
            }

            if (image.DescribeConstant() is { } constant)
            {
                throw new InvalidDataException($"{page}: {constant}");
            }
        }

        return pages;
    }

    /// <summary>Writes a page's files as <c>unet predict</c> does, into a scratch folder, and uploads each; returns them with their sha256.</summary>
    private async Task<IReadOnlyList<OutputFile>> WriteAsync(string jobId, string stem, GrayImage image, PixelMaps maps, PredictionModel model, CancellationToken cancellationToken)
    {
        var scratch = Directory.CreateTempSubdirectory("unet-predict-");
        try
        {
            PredictionWriter.Write(scratch.FullName, stem, image, maps, instances: model.Instances, classes: model.Classes, overlay: model.Overlays,
                minObjectPixels: model.MinObjectPixels);
            var files = new List<OutputFile>();
            foreach (var path in Directory.GetFiles(scratch.FullName).Order(StringComparer.Ordinal))
            {
                var bytes = await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
                var name = Path.GetFileName(path);
                await Blobs.WriteAsync(PredictionLayout.Output(jobId, name), bytes, BlobCondition.None, cancellationToken).ConfigureAwait(false);
                files.Add(new OutputFile(name, bytes.LongLength, Convert.ToHexStringLower(SHA256.HashData(bytes))));
            }

            return files;
        }
        finally
        {
            scratch.Delete(recursive: true);
        }
    }

    /// <summary>The job's model on this silo: loaded (and checked) on its first unit, then kept.</summary>
    private async Task<PredictionModel> ModelAsync(PredictionPlan plan, CancellationToken cancellationToken)
    {
        if (_models.TryGetValue(plan.JobId, out var cached) && cached.Sha256 == plan.CheckpointSha256)
        {
            return cached;
        }

        var spec = plan.Spec;
        var folder = spec.Checkpoint ?? throw new InvalidOperationException($"job '{plan.JobId}' names no checkpoint folder.");
        // The manifest names the checkpoint exactly (the sha256 of every file); loading checks each file against it.
        var manifestName = BlobNames.Combine(folder, CheckpointManifest.FileName);
        var stored = await Blobs.ReadAsync(manifestName, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidDataException($"Checkpoint '{Blobs.Describe(folder)}' has no {CheckpointManifest.FileName} any more.");
        var sha = Convert.ToHexStringLower(SHA256.HashData(stored.Content));
        if (sha != plan.CheckpointSha256)
        {
            throw new InvalidDataException(
                $"checkpoint {Blobs.Describe(folder)} changed since the job started: its manifest's sha256 is {sha}, the job's is {plan.CheckpointSha256}.");
        }

        var loaded = await CheckpointStore.LoadAtAsync(Blobs, folder, cancellationToken).ConfigureAwait(false);
        var manifest = loaded.Manifest;
        var precision = TrainingOverrides.ParsePrecision(spec.Precision ?? "fp32");
        var network = await torch.RunAsync(() =>
        {
            using (loaded)
            {
                var built = CheckpointStore.CreateModel(loaded);
                built.to(precision.ScalarType()).to(torch.Device.Device);
                return built;
            }
        }).ConfigureAwait(false);
        var classes = CheckpointPrediction.Classes(manifest);
        var tileSize = spec.TileSize ?? CheckpointPrediction.TrainingTileSize(manifest);
        var model = new PredictionModel(
            sha,
            network,
            new OverlapTilePredictor(network, tileSize, spec.BatchSize ?? OverlapTilePredictor.DefaultBatchSize, spec.BlockSize ?? OverlapTilePredictor.DefaultBlockSize),
            classes,
            spec.Threshold ?? manifest.Threshold ?? 0.5,
            manifest.Normalisation,
            spec.Instances ?? CheckpointPrediction.ObjectLabels(manifest),
            spec.Overlays ?? true,
            spec.Tta,
            spec.MinObjectPixels ?? manifest.MinObjectPixels ?? 0);
        if (_models.TryGetValue(plan.JobId, out var replaced))
        {
            _ = torch.RunAsync(replaced.Network.Dispose);
        }

        _models[plan.JobId] = model;
        LogLoaded(plan.JobId, folder, manifest.Step, torch.Device.Description);
        return model;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Prediction job {JobId}: unit {UnitId} read {Read:F3} s, computed {Compute:F3} s, wrote {Write:F3} s")]
    private partial void LogFileUnit(string jobId, string unitId, double read, double compute, double write);

    [LoggerMessage(Level = LogLevel.Information, Message = "Prediction job {JobId}: loaded checkpoint {Checkpoint} (step {Step}) on {Device}")]
    private partial void LogLoaded(string jobId, string checkpoint, long step, string device);

    private sealed record CachedPage(string Key, GrayImage Image, Tensor Input);

    private sealed record PredictionModel(
        string Sha256, UNet Network, OverlapTilePredictor Predictor, PredictionClasses Classes, double Threshold, IntensityNormalisation Normalisation,
        bool Instances, bool Overlays, bool Tta, int MinObjectPixels);
}
