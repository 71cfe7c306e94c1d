using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using TorchSharp;
using UNetCluster.Client.Cluster;
using UNetCluster.Client.Display;
using UNetCluster.Contracts.Grains;
using UNetCluster.Contracts.Jobs;
using UNetCluster.Data.DataSets;
using UNetCluster.Data.Imaging;
using UNetCluster.Model.Checkpoints;
using UNetCluster.Model.Inference;
using UNetCluster.Model.Losses;
using UNetCluster.Model.Metrics;
using UNetCluster.Model.Optimization;
using UNetCluster.Model.Training;
using UNetCluster.Training.Checkpoints;
using UNetCluster.Training.Jobs;
using UNetCluster.Training.Settings;
using static TorchSharp.torch;

namespace UNetCluster.Client.Commands;

/// <summary>
/// <c>unet train</c>: trains U-Net on a labelled data set (the bundled ISBI 2012 sections by default) with a live
/// progress bar, keeps a validation split out of training, writes checkpoints, then predicts the validation
/// sections and one unlabelled section and prints the metrics. Ctrl+C stops after writing a checkpoint.
/// </summary>
internal static class TrainCommand
{
    /// <summary>Training sections the decision threshold is calibrated on (evenly spaced; never validation ones).</summary>
    private const int CalibrationSections = 4;

    public static Command Create(TextWriter output, TextWriter error)
    {
        var images = new Option<DirectoryInfo?>("--images") { Description = "Folder of training images (default: the bundled ISBI 2012 sections)." };
        var masks = new Option<DirectoryInfo?>("--masks") { Description = "Folder of their masks, paired by file name (255 or 1 = cell, 0 = membrane)." };
        var unlabelled = new Option<FileSystemInfo?>("--unlabelled") { Description = "Image or folder to predict after training (default: the first bundled unlabelled section)." };
        var preset = new Option<string>("--preset") { Description = $"Training preset: {string.Join(", ", Presets.Names.Select(n => $"{n} ({Presets.Describe(n)})"))}.", DefaultValueFactory = _ => Presets.Default };
        var seed = new Option<long>("--seed") { Description = "Seed of the initial weights, tile positions and augmentation.", DefaultValueFactory = _ => 42 };
        var outDir = new Option<DirectoryInfo?>("--out") { Description = "Run folder for checkpoints, predictions and metrics (default: runs/train-<time>)." };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out (default: the newest run under runs/) from its latest checkpoint." };
        var validation = new Option<int?>("--validation-sections") { Description = "Labelled sections held out for validation." };
        var noClassBalance = new Option<bool>("--no-class-balance") { Description = "Weight map without the class-frequency term w_c (border term only)." };
        var maxPixels = new ImageLimitOption();
        var device = new DeviceOption();
        var maskKind = new Option<MaskKind?>("--mask-kind")
        {
            Description = "What the masks hold: auto (binary masks; 16-bit masks with several values are object ids), binary, or instances " +
                "(object ids, 0 = background: trained as foreground with a background border between touching objects, weighted by the paper's border term).",
        };

        var command = new Command("train", "Train U-Net on a labelled data set, then predict and report validation metrics.")
        {
            images, masks, unlabelled, preset, seed, outDir, resume, validation, noClassBalance, maskKind, maxPixels.Option, device.Option,
        };
        var overrideOptions = new TrainingOverrideOptions();
        overrideOptions.AddTo(command);
        command.SetAction((parse, cancellationToken) => CommandRunner.RunAsync(error, () =>
        {
            var overrides = overrideOptions.Parse(parse, parse.GetValue(validation), parse.GetValue(noClassBalance) ? false : null);
            var request = new Request(
                parse.GetValue(images)?.FullName, parse.GetValue(masks)?.FullName, parse.GetValue(unlabelled)?.FullName,
                parse.GetValue(preset)!, parse.GetResult(preset)?.Implicit == false, parse.GetValue(seed), parse.GetResult(seed)?.Implicit == false,
                parse.GetValue(outDir)?.FullName, parse.GetValue(resume), overrides)
            {
                MaskKind = parse.GetValue(maskKind),
                MaxImagePixels = maxPixels.Pixels(parse),
                Device = parse.GetValue(device.Option),
            };
            return RunAsync(request, output, error, cancellationToken);
        }));
        return command;
    }

    internal sealed record Request(
        string? Images, string? Masks, string? Unlabelled, string Preset, bool PresetGiven, long Seed, bool SeedGiven, string? Out, bool Resume, TrainingOverrides Overrides)
    {
        public MaskKind? MaskKind { get; init; }

        public long? MaxImagePixels { get; init; }

        /// <summary>The in-process silo's device (<see cref="ComputeDevice.Resolve"/>); null for auto.</summary>
        public string? Device { get; init; }
    }

    /// <summary>The job id of the embedded run; its checkpoints go to the run folder's <c>checkpoints/</c>.</summary>
    private const string JobId = "train";

    /// <summary>The name the embedded silo knows the run's data set by.</summary>
    private const string DataSetName = "train";

    private static async Task<int> RunAsync(Request request, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var device = ComputeDevice.Resolve(request.Device);   // an unreachable CUDA device is refused before anything is read or written
        var (run, record) = request.Resume ? ResumeRecord(request) : NewRecord(request);
        var options = JobOptions.Build(record.Spec);
        var limits = ImageLimits.For(request.MaxImagePixels);
        var dataSet = DataSetLoader.LoadLabelled(record.Images, record.Masks, limits, record.MaskKind);
        TrainingData.ValidationIndexes(dataSet.Sections.Count, options.ValidationSections);
        if (JobSpecValidator.TileFitError(options, DataSetSections.Local(record.Images, dataSet)) is { } tooLarge)
        {
            throw new UserInputException(tooLarge);
        }

        var unlabelledImages = record.Unlabelled is null ? [] : LoadUnlabelled(record.Unlabelled, request.Unlabelled is null, limits);
        Predictions.RequireDistinctOutputs(unlabelledImages, run.UnlabelledPredictions);   // before training, not after it

        // Everything the user gave has been checked: only now is anything written.
        var existing = Directory.Exists(run.Path) ? Directory.GetFileSystemEntries(run.Path).ToHashSet(StringComparer.Ordinal) : null;
        try
        {
            run.WriteRecord(record with { Options = options });
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"--out {run.Path} cannot be written ({e.Message}); expected a folder you can write.", e);
        }

        set_num_threads(Environment.ProcessorCount);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"U-Net ({options.Model.BaseChannels} base channels, depth {options.Model.Depth}, {options.Model.Padding.ToString().ToLowerInvariant()} convolutions), " +
            $"preset {record.Preset}, seed {options.Seed}: {dataSet.Sections.Count} labelled sections from {record.Images}, {options.ValidationSections} held out for validation."));
        if (dataSet.Sections.Count(s => s.Instances is not null) is var instances and > 0)
        {
            output.WriteLine($"Masks: object ids (instance masks) in {instances} of {dataSet.Sections.Count} sections; touching objects are trained apart, with a background border between them.");
        }

        output.WriteLine($"Run folder: {run.Path}");
        if (request.Resume)
        {
            // The step the job really resumes from: the newest checkpoint that loads, not what the pointer says.
            using var from = new LocalCheckpointStore(run.CheckpointsPath).LoadLatest(message => error.WriteLine($"warning: {message.TrimEnd('.')}; resuming from the newest checkpoint that loads."));
            output.WriteLine(from is not null ? $"Resuming at step {from.Manifest.Step}." : "No usable checkpoint found: starting at step 0.");
        }

        var budget = options.Minutes is { } m ? string.Create(CultureInfo.InvariantCulture, $", at most {m:0.#} minutes") : string.Empty;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Training on {dataSet.Sections.Count - options.ValidationSections} sections in an in-process silo: {options.Steps} steps of {options.BatchSize} tile(s) {options.TileSize}x{options.TileSize}{budget}, " +
            $"{options.Precision.ToString().ToLowerInvariant()} on {device.Description}."));

        // The embedded default: the same grains as a cluster, in a single silo of this process. Its start and the
        // submission are not interrupted; Ctrl+C during training asks the job to stop at a step boundary.
        var folders = new Dictionary<string, DataSetFolders> { [DataSetName] = new() { Images = record.Images, Masks = record.Masks, MaskKind = record.MaskKind } };
        JobStatus status;
        await using (var cluster = await EmbeddedCluster.StartAsync(run.Path, "checkpoints", folders, request.MaxImagePixels, new WorkerSettings { Device = device.Name }, CancellationToken.None).ConfigureAwait(false))
        {
            var submitted = await cluster.Client.GetGrain<IJobRegistryGrain>(0).SubmitAsync(record.Spec, JobId).ConfigureAwait(false);
            if (!submitted.Accepted)
            {
                throw new UserInputException(string.Join(Environment.NewLine, submitted.Errors));
            }

            status = await JobWatcher.WatchAsync(cluster.Client, JobId, new TrainingProgressDisplay(output), cancelJobOnInterrupt: true, cancellationToken).ConfigureAwait(false);
        }

        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Stopped at step {status.Step} ({Describe(status)}) after {status.Elapsed:mm\\:ss}, {status.TilesPerSecond:F2} tiles/s, loss {status.SmoothedLoss ?? double.NaN:F4}."));
        if (status.State == JobState.Failed)
        {
            error.WriteLine($"error: training failed: {status.Error}");
            return Cli.Failed;
        }

        if (status.Checkpoint is not null)
        {
            output.WriteLine($"Checkpoint: {status.Checkpoint}");
        }

        if (status.State == JobState.Cancelled)
        {
            output.WriteLine($"Continue with: unet train --resume --out {run.Path}");
            return Cli.Cancelled;
        }

        using var checkpoint = new LocalCheckpointStore(run.CheckpointsPath).LoadLatest();
        if (checkpoint is null)
        {
            // A budget that ended before the first step: no model to predict with, and a run folder that cannot resume.
            RemoveNewEntries(run.Path, existing);
            var why = options.Minutes is { } minutes
                ? string.Create(CultureInfo.InvariantCulture, $"--minutes {minutes} ended the run")
                : "the run ended";
            throw new UserInputException(
                $"{why} at step {status.Step}, before any checkpoint, so nothing was trained or kept; expected a budget long enough for at least one step (e.g. --minutes 1).");
        }

        using var model = LocalCheckpointStore.CreateModel(checkpoint);
        model.to(device.Device);   // validation and unlabelled predictions in fp32, on the training device
        using var data = TrainingData.Create(dataSet, options.ValidationSections, options.WeightMap);
        var tileSize = options.PredictionTileSize ?? options.TileSize;
        var calibration = ThresholdCalibration.Pick(data.Training, CalibrationSections);
        var (threshold, trainingError) = ThresholdCalibration.Calibrate(model, tileSize, calibration.Select(s => (s.Image, s.Mask)));
        var final = LocalCheckpointStore.SetThreshold(checkpoint.Directory, threshold);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Decision threshold {threshold:0.00} on the cell probability (pixel error {trainingError:F4} on {calibration.Count} training sections), saved with {final}."));
        var objects = new List<(string Id, ObjectScores Scores)>();
        var scores = Predictions.PredictLabelled(model, tileSize, data.Validation, run.ValidationPredictions, threshold, objects);
        var overlays = Predictions.PredictImages(model, tileSize, unlabelledImages, run.UnlabelledPredictions, threshold, instances: objects.Count > 0);
        var mean = SegmentationMetrics.Mean(scores.Select(s => s.Scores));
        MetricsReport.Print(output, scores, mean);
        var meanObjects = ObjectMetrics.Mean(objects.Select(o => o.Scores));
        if (meanObjects is not null)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Objects: F1@0.5 {meanObjects.F1:F3}, mean F1@0.5:0.95 {meanObjects.MeanF1:F3}, {meanObjects.Matched}/{meanObjects.Truth} matched, {meanObjects.Merged} merged, {meanObjects.Split} split."));
        }

        File.WriteAllText(run.MetricsPath, JsonSerializer.Serialize(
            new { step = status.Step, threshold, validation = scores.Select(s => new { id = s.Id, scores = s.Scores }), mean, objects = meanObjects },
            CheckpointManifest.JsonOptions));
        output.WriteLine($"Predictions: {run.ValidationPredictions}");
        foreach (var overlay in overlays)
        {
            output.WriteLine($"Overlay of an unlabelled section: {overlay}");
        }

        output.WriteLine($"Metrics: {run.MetricsPath}");
        return Cli.Ok;
    }

    /// <summary>Deletes what this run added to its folder: the whole folder when it did not exist before.</summary>
    private static void RemoveNewEntries(string folder, HashSet<string>? before)
    {
        if (before is null)
        {
            Directory.Delete(folder, recursive: true);
            return;
        }

        foreach (var entry in Directory.GetFileSystemEntries(folder).Where(e => !before.Contains(e)))
        {
            if (Directory.Exists(entry))
            {
                Directory.Delete(entry, recursive: true);
            }
            else
            {
                File.Delete(entry);
            }
        }
    }

    private static (RunDirectory, RunRecord) NewRecord(Request request)
    {
        if ((request.Images is null) != (request.Masks is null))
        {
            throw new UserInputException("--images and --masks go together: give both folders, or neither to train on the bundled data.");
        }

        var bundled = request.Images is null;
        var images = request.Images ?? BundledData.ImagesDirectory;
        var masks = request.Masks ?? BundledData.MasksDirectory;
        var unlabelled = request.Unlabelled ?? (bundled ? BundledData.UnlabelledDirectory : null);
        var options = request.Overrides.ApplyTo(Presets.Get(request.Preset, request.Seed));
        var run = request.Out is null ? RunDirectory.CreateDefault() : new RunDirectory(request.Out);
        OutputFolder.Require(run.Path, "--out");
        if (run.HasCheckpoint)
        {
            throw new UserInputException(
                $"--out {run.Path} already holds a training run: pass --resume to continue it, or choose another --out (nothing was changed).");
        }

        return (run, new RunRecord(images, masks, unlabelled, options, request.Preset, JobOptions.Spec(DataSetName, request.Preset, request.Seed, request.Overrides))
        {
            MaskKind = request.MaskKind ?? MaskKind.Auto,
        });
    }

    private static (RunDirectory, RunRecord) ResumeRecord(Request request)
    {
        var run = request.Out is null
            ? RunDirectory.FindNewestResumable() ?? throw new UserInputException("--resume found no run with a checkpoint under runs/; pass --out with the run folder.")
            : new RunDirectory(request.Out);
        if (!run.HasCheckpoint)
        {
            throw new UserInputException($"--resume: {run.Path} has no checkpoint to resume from.");
        }

        if (request.Overrides.ChangesTheModel || request.PresetGiven || request.SeedGiven || request.Images is not null || request.Masks is not null)
        {
            throw new UserInputException(
                "--resume continues a run with its own preset, seed, data and options; only --steps and --minutes may be given with it.");
        }

        var record = run.ReadRecord();
        var spec = record.Spec with
        {
            Steps = request.Overrides.Steps ?? record.Spec.Steps,
            Minutes = request.Overrides.Minutes ?? record.Spec.Minutes,
        };
        return (run, record with { Spec = spec, Options = JobOptions.Build(spec), Unlabelled = request.Unlabelled ?? record.Unlabelled, MaskKind = request.MaskKind ?? record.MaskKind });
    }

    private static IReadOnlyList<GrayImage> LoadUnlabelled(string path, bool firstOnly, ImageLimits limits)
    {
        var images = DataSetLoader.LoadImages(path, limits);
        return firstOnly ? images.Take(1).ToList() : images;
    }

    private static string Describe(JobStatus status) => status.State switch
    {
        JobState.Cancelled => status.Checkpoint is null ? "interrupted before the first step" : "interrupted; checkpoint written",
        JobState.Failed => "failed",
        _ => status.StopReason ?? "all steps done",
    };
}
