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
using UNetCluster.Data.Labels;
using UNetCluster.Model;
using UNetCluster.Model.Checkpoints;
using UNetCluster.Model.Inference;
using UNetCluster.Model.Losses;
using UNetCluster.Model.Metrics;
using UNetCluster.Model.Optimization;
using UNetCluster.Model.Training;
using UNetCluster.Training.Checkpoints;
using UNetCluster.Training.Jobs;
using UNetCluster.Training.Reports;
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
        var preset = Choices.Preset();
        var seed = new Option<long>("--seed") { Description = "Seed of the initial weights, tile positions and augmentation.", DefaultValueFactory = _ => 42 };
        var outDir = new Option<DirectoryInfo?>("--out") { Description = "Run folder for checkpoints, predictions and metrics (default: runs/train-<time>)." };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out (default: the newest run under runs/) from its latest checkpoint." };
        var validation = new Option<int?>("--validation-sections") { Description = "Labelled sections held out for validation." };
        var noClassBalance = new Option<bool>("--no-class-balance") { Description = "Weight map without the class-frequency term w_c (border term only)." };
        var classBalance = new Option<bool>("--class-balance")
        {
            Description = "Weight map with the paper's class-frequency term w_c (each class the same total weight in each mask), which every preset leaves out.",
        };
        var maxPixels = new ImageLimitOption();
        var device = new DeviceOption();
        var maskKind = Choices.MaskKind(
            "What the masks hold: auto (binary masks; 16-bit masks with several values are object ids), binary, instances " +
            "(object ids, 0 = background: trained as foreground with a background border between touching objects, weighted by the paper's border term; " +
            "with --border-class as 3 classes), or classes (pixel value = class index 0..C-1; C from --classes or the largest index + 1).");

        var dashboard = new Option<int?>("--dashboard")
        {
            Description = "Serve the live training dashboard on 127.0.0.1 while training, on this port (none: any free port); prints its URL, which carries the session key every request needs.",
            Arity = ArgumentArity.ZeroOrOne,
        };

        var command = new Command("train", "Train U-Net on a labelled data set, then predict and report validation metrics.")
        {
            images, masks, unlabelled, preset, seed, outDir, resume, validation, noClassBalance, classBalance, maskKind, maxPixels.Option, device.Option, dashboard,
        };
        var overrideOptions = new TrainingOverrideOptions();
        overrideOptions.AddTo(command);
        command.SetAction((parse, cancellationToken) => CommandRunner.RunAsync(error, () =>
        {
            var (off, on) = (parse.GetValue(noClassBalance), parse.GetValue(classBalance));
            if (off && on)
            {
                throw new UserInputException("--class-balance and --no-class-balance contradict each other: give one of them (nothing was changed).");
            }

            var balance = off ? false : on ? true : (bool?)null;
            var overrides = overrideOptions.Parse(parse, parse.GetValue(validation), balance);
            var request = new Request(
                parse.GetValue(images)?.FullName, parse.GetValue(masks)?.FullName, parse.GetValue(unlabelled)?.FullName,
                parse.GetValue(preset)!, parse.GetResult(preset)?.Implicit == false, parse.GetValue(seed), parse.GetResult(seed)?.Implicit == false,
                parse.GetValue(outDir)?.FullName, parse.GetValue(resume), overrides)
            {
                MaskKind = Choices.MaskKindOf(parse.GetValue(maskKind)),
                MaxImagePixels = maxPixels.Pixels(parse),
                Device = parse.GetValue(device.Option),
                DashboardPort = parse.GetResult(dashboard) is null ? null : DashboardPort(parse.GetValue(dashboard)),
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

        /// <summary>Serve the dashboard on this loopback port (0: any free port); null: no dashboard.</summary>
        public int? DashboardPort { get; init; }
    }

    /// <summary>The port <c>--dashboard</c> names, 0 for none given; refuses one outside 1-65535.</summary>
    private static int DashboardPort(int? port) => port switch
    {
        null => 0,
        >= 1 and <= 65535 => port.Value,
        _ => throw new UserInputException($"--dashboard {port} is not a port: expected a port from 1 to 65535, or --dashboard alone for any free port."),
    };

    /// <summary>The job id of the embedded run; its checkpoints go to the run folder's <c>checkpoints/</c>.</summary>
    private const string JobId = "train";

    /// <summary>The name the embedded silo knows the run's data set by.</summary>
    private const string DataSetName = "train";

    private static async Task<int> RunAsync(Request request, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var device = ComputeDevice.Resolve(request.Device);   // an unreachable CUDA device is refused before anything is read or written
        var (run, record) = request.Resume ? ResumeRecord(request) : NewRecord(request);
        var limits = ImageLimits.For(request.MaxImagePixels);
        var dataSet = DataSetLoader.LoadLabelled(record.Images, record.Masks, limits, record.MaskKind, record.MaskKind == MaskKind.Classes ? record.Spec.Classes : null);
        record = WithDataClasses(record, dataSet);
        var sections = DataSetSections.Local(record.Images, dataSet);
        if (JobSpecValidator.ChannelError(record.Spec.Channels, sections) is { } channelError)
        {
            throw new UserInputException(channelError);
        }

        // The network's input channels follow the data; the spec records them, so a resumed run and the checkpoint agree.
        record = record with { Spec = record.Spec with { Channels = dataSet.Channels } };
        var options = JobOptions.Build(record.Spec);
        TrainingData.ValidationIndexes(dataSet.Sections.Count, options.ValidationSections);
        string? fittedNote = null;
        if (JobSpecValidator.FittedTile(record.Spec.TileSize, options, sections) is { } fitted)
        {
            // The preset's tile is larger than the data allows and none was given: the largest that fits, recorded in the
            // spec (a resumed run keeps it) and said.
            var (section, side) = (sections.Smallest!.Value, TileGeometry.OutputSize(options.Model, fitted));
            fittedNote = $"Tile: {fitted}x{fitted}, the largest whose output ({side} x {side}) fits the smallest section, '{section.Id}' ({section.Width} x {section.Height}); " +
                         $"the preset's {options.TileSize} does not (--tile chooses another).";
            record = record with { Spec = record.Spec with { TileSize = fitted } };
            options = JobOptions.Build(record.Spec);
        }

        if (JobSpecValidator.TileFitError(options, sections) is { } tooLarge)
        {
            throw new UserInputException(tooLarge);
        }

        var unlabelledImages = record.Unlabelled is null ? [] : LoadUnlabelled(record.Unlabelled, request.Unlabelled is null, limits);
        Predictions.RequireChannels(unlabelledImages, options.Model.InputChannels, $"the training images in {record.Images}");
        Predictions.RequireDistinctOutputs(unlabelledImages, run.UnlabelledPredictions);   // before training, not after it

        // Everything the user gave has been checked: only now is anything written.
        var existing = Directory.Exists(run.Path) ? Directory.GetFileSystemEntries(run.Path).ToHashSet(StringComparer.Ordinal) : null;
        using var folderLock = LockRunFolder(run.Path);
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
            $"U-Net ({options.Model.BaseChannels} base channels, depth {options.Model.Depth}, {options.Model.Padding.ToString().ToLowerInvariant()} convolutions, " +
            $"{DataSetLoader.Channels(options.Model.InputChannels)} in, {NormalisationName(options.Normalisation)} normalisation), " +
            $"preset {record.Preset}, seed {options.Seed}: {dataSet.Sections.Count} labelled sections from {record.Images}, {options.ValidationSections} held out for validation."));
        if (dataSet.Sections.Count(s => s.Instances is not null) is var instances and > 0)
        {
            output.WriteLine(options.BorderClass
                ? $"Masks: object ids (instance masks) in {instances} of {dataSet.Sections.Count} sections; trained as 3 classes: background, interior, and {options.BorderKind switch { BorderKind.Outline => $"every object's outline ({options.BorderWidth} px)", BorderKind.Core => "every object but its core (the pixels at least half its largest distance from its edge)", _ => $"the border between touching objects ({options.BorderWidth} px)" }}."
                : $"Masks: object ids (instance masks) in {instances} of {dataSet.Sections.Count} sections; touching objects are trained apart, with a background border between them." +
                    (string.Equals(record.Preset, Presets.Nuclei, StringComparison.OrdinalIgnoreCase)
                        ? string.Empty
                        : " For fluorescence nuclei, --preset nuclei (about 13 minutes on 2 CPU cores) separates touching nuclei better: it trains a border class between them and keeps the checkpoint with the best object F1 (bench/README.md)."));
        }

        if (dataSet.Kind == MaskKind.Classes)
        {
            var named = options.ClassNames is { } names ? $": {string.Join(", ", names.Select((n, i) => $"{i} {n}"))}" : $" (0..{options.Model.Classes - 1})";
            output.WriteLine($"Masks: class indices, {options.Model.Classes} classes{named}; each pixel is predicted as its most probable class.");
        }

        if (options.WeightMap.ClassWeights is { } weights)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Cross-entropy weights by class: {string.Join(", ", weights.Select((w, i) => $"{i} {w:0.###}"))} (fixed, in place of the class balance)."));
        }

        if (options.Oversample > 0)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Oversampling: {options.Oversample:0.##%} of the tiles are placed over a pixel of their section's rarest class other than the background; the rest anywhere."));
        }

        output.WriteLine($"Run folder: {run.Path}");
        if (request.Resume)
        {
            // The step the job really resumes from: the newest checkpoint that loads, not what the pointer says.
            using var from = new LocalCheckpointStore(run.CheckpointsPath).LoadLatest(message => error.WriteLine($"warning: {message.TrimEnd('.')}; resuming from the newest checkpoint that loads."));
            output.WriteLine(from is not null ? $"Resuming at step {from.Manifest.Step}." : "No usable checkpoint found: starting at step 0.");
        }

        if (fittedNote is not null)
        {
            output.WriteLine(fittedNote);
        }

        var budget = options.Minutes is { } m ? string.Create(CultureInfo.InvariantCulture, $", at most {m:0.#} minutes") : string.Empty;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Training on {dataSet.Sections.Count - options.ValidationSections} sections in an in-process silo: {options.Steps} steps of {options.BatchSize} tile(s) {options.TileSize}x{options.TileSize}{budget}, " +
            $"{options.Optimizer.Kind.ToString().ToLowerInvariant()} at learning rate {options.Optimizer.LearningRate:0.######}" +
            $"{options.Schedule switch { LearningRateSchedule.Cosine => " decayed to 0 (cosine)", LearningRateSchedule.Cooldown => string.Create(CultureInfo.InvariantCulture, $" decayed to 0 over the last {1 - TrainingOptions.CooldownStart:0 %} (cooldown)"), _ => " (constant)" }}, " +
            $"{options.Precision.ToString().ToLowerInvariant()} on {device.Description}."));

        // The embedded default: the same grains as a cluster, in a single silo of this process. Its start and the
        // submission are not interrupted; Ctrl+C during training asks the job to stop at a step boundary.
        var folders = new Dictionary<string, DataSetFolders> { [DataSetName] = new() { Images = record.Images, Masks = record.Masks, MaskKind = record.MaskKind } };
        JobStatus status;
        JobHistory history;
        await using (var cluster = await EmbeddedCluster.StartAsync(
            run.Path, "checkpoints", folders, request.MaxImagePixels, new WorkerSettings { Device = device.Name }, CancellationToken.None, request.DashboardPort).ConfigureAwait(false))
        {
            if (cluster.Dashboard is { } url)
            {
                // The URL carries the session key (the page trades it for a cookie); it is shown to this user only, never logged.
                output.WriteLine($"Dashboard: {url} (loopback only, while training runs; the session key in it is also the token for Cancel)");
            }

            var submitted = await cluster.Client.GetGrain<IJobRegistryGrain>(0).SubmitAsync(record.Spec, JobId).ConfigureAwait(false);
            if (!submitted.Accepted)
            {
                throw new UserInputException(string.Join(Environment.NewLine, submitted.Errors));
            }

            var jobs = new GrainJobClient(cluster.Client, "the in-process silo");
            status = await JobWatcher.WatchAsync(jobs, JobId, new TrainingProgressDisplay(output), cancelJobOnInterrupt: true, cancellationToken).ConfigureAwait(false);
            history = await jobs.GetHistoryAsync(JobId, CancellationToken.None).ConfigureAwait(false);
        }

        var validations = history.Validations;

        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Stopped at step {status.Step} ({Describe(status)}) after {Durations.Format(status.Elapsed)}, {status.TilesPerSecond:F2} tiles/s, loss {status.SmoothedLoss ?? double.NaN:F4}."));
        if (status.State is JobState.Failed or JobState.Cancelled)
        {
            // The report of a run that did not finish: its curves, validations and checkpoints, no overlays.
            output.WriteLine($"Report: {WriteReport(run, status, history, [], $"No overlays: the run was {status.State.ToString().ToLowerInvariant()} before its validation sections were predicted.")}");
        }

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

        // The best checkpoint by validation, if a validation marked one; else the latest.
        var store = new LocalCheckpointStore(run.CheckpointsPath);
        using var checkpoint = await store.LoadBestAsync(CancellationToken.None).ConfigureAwait(false) ?? store.LoadLatest();
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
        using var data = TrainingData.Create(dataSet, options);
        var tileSize = options.PredictionTileSize ?? options.TileSize;
        double? threshold = null;
        if (checkpoint.Manifest.Selection is { } selection)
        {
            threshold = options.Model.Classes == 2 || options.BorderClass ? selection.Threshold : null;
            var within = status.HighestValidation is { } top && top.Step != checkpoint.Manifest.Step && status.BestValidation is { SelectionMargin: { } margin } best
                ? $"; {JobWatcher.NearTop(best.Value, margin, top)}, so the later checkpoint is kept"
                : string.Empty;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Best checkpoint by validation: step {checkpoint.Manifest.Step} ({selection.Metric} {selection.Value:0.####}{within}), {checkpoint.Directory}") +
                (threshold is not { } t ? "; each pixel takes its most probable class."
                    : options.BorderClass
                    ? string.Create(CultureInfo.InvariantCulture, $"; objects seeded where the interior's probability is at least {t:0.00}, calibrated for {selection.Metric} on the validation sections.")
                    : string.Create(CultureInfo.InvariantCulture, $"; decision threshold {t:0.00} on the foreground probability, calibrated for {selection.Metric} on the validation sections.")));
            if (JobWatcher.BorderNotLearned(status.BestValidation) is { } warning)
            {
                error.WriteLine(warning);
            }
        }
        else if (options.Model.Classes == 2)
        {
            // No validation marked a best checkpoint (every one failed): calibrate for pixel error on training sections.
            var calibration = ThresholdCalibration.Pick(data.Training, CalibrationSections);
            var (calibrated, trainingError) = ThresholdCalibration.Calibrate(model, tileSize, calibration.Select(s => (s.Image, s.Mask)));
            var final = LocalCheckpointStore.SetThreshold(checkpoint.Directory, calibrated);
            threshold = calibrated;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"No validation marked a best checkpoint{(status.ValidationError is { } why ? $" ({why})" : "")}: using the latest, step {checkpoint.Manifest.Step}; " +
                $"decision threshold {calibrated:0.00} (pixel error {trainingError:F4} on {calibration.Count} training sections), saved with {final}."));
        }

        var objects = new List<(string Id, ObjectScores Scores)>();
        var classScores = new List<(string Id, ClassScores Scores)>();
        var classes = new PredictionClasses(options.BorderClass, options.ClassNames);
        var smallest = checkpoint.Manifest.MinObjectPixels ?? 0;   // calibrated with the threshold (instance data), else 0
        if (smallest > 1)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Objects of fewer than {smallest} pixels are left out of the object labels (calibrated with the threshold; predict does the same unless told --min-object-pixels)."));
        }

        var scores = Predictions.PredictLabelled(model, tileSize, data.Validation, run.ValidationPredictions, threshold ?? 0.5, objects, classes, classScores, options.Normalisation, smallest);
        var overlays = Predictions.PredictImages(model, tileSize, unlabelledImages, run.UnlabelledPredictions, threshold ?? 0.5, instances: objects.Count > 0, classes: classes,
            normalisation: options.Normalisation, minObjectPixels: smallest);
        var mean = SegmentationMetrics.Mean(scores.Select(s => s.Scores));
        MetricsReport.Print(output, scores, mean);
        MetricsReport.PrintClasses(output, classScores);
        var meanObjects = ObjectMetrics.Mean(objects.Select(o => o.Scores));
        if (meanObjects is not null)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Objects: F1@0.5 {meanObjects.F1:F3}, mean F1@0.5:0.95 {meanObjects.MeanF1:F3}, {meanObjects.Matched}/{meanObjects.Truth} matched, {meanObjects.Merged} merged, {meanObjects.Split} split."));
        }

        File.WriteAllText(run.MetricsPath, JsonSerializer.Serialize(
            new
            {
                step = status.Step,
                checkpointStep = checkpoint.Manifest.Step,
                selection = checkpoint.Manifest.Selection,
                threshold,
                validation = scores.Select(s => new { id = s.Id, scores = s.Scores }),
                mean,
                objects = meanObjects,
                classes = ClassMetrics.Mean(classScores.Select(c => c.Scores)),
                validations,
            },
            CheckpointManifest.JsonOptions));
        output.WriteLine($"Predictions: {run.ValidationPredictions}");
        foreach (var overlay in overlays)
        {
            output.WriteLine($"Overlay of an unlabelled section: {overlay}");
        }

        output.WriteLine($"Metrics: {run.MetricsPath}");
        var sheet = scores.Select(s => new ReportOverlay(
            s.Id,
            File.ReadAllBytes(Path.Combine(run.ValidationPredictions, Predictions.FileStem(s.Id) + PredictionWriter.OverlaySuffix)),
            [new("pixel error", s.Scores.PixelError), new("IoU", s.Scores.ForegroundIoU), new("Dice", s.Scores.Dice), new("Rand error", s.Scores.RandError)]))
            .ToList();
        var note = string.Create(CultureInfo.InvariantCulture, $"Overlays of checkpoint step {checkpoint.Manifest.Step}") +
            (threshold is { } used ? string.Create(CultureInfo.InvariantCulture, $" at threshold {used:0.00}.") : ".");
        output.WriteLine($"Report: {WriteReport(run, status, history, sheet, note, checkpoint.Manifest.Selection is not null ? checkpoint.Manifest.Step : null)}");
        return Cli.Ok;
    }

    /// <summary>Writes the run's <c>report.html</c> and <c>history.csv</c> into its folder; returns the report's path.</summary>
    private static string WriteReport(RunDirectory run, JobStatus status, JobHistory history, IReadOnlyList<ReportOverlay> overlays, string note, long? best = null)
    {
        var report = Path.Combine(run.Path, RunReport.FileName);
        File.WriteAllText(Path.Combine(run.Path, HistoryCsv.FileName), HistoryCsv.Render(history));
        File.WriteAllText(report, RunReport.Render(new RunReportContent(Path.GetFileName(run.Path), status, history, overlays, note, best)));
        return report;
    }

    /// <summary>
    /// The record with what its data decides: a class-mask set's class count in the spec (unless <c>--classes</c> gave
    /// one), so the model, the checkpoint and a resumed run have as many outputs as the data has classes. Refuses
    /// <c>--border-class</c> on masks that hold no object ids.
    /// </summary>
    private static RunRecord WithDataClasses(RunRecord record, LabelledDataSet dataSet)
    {
        if (record.Spec.BorderClass == true && dataSet.Kind != MaskKind.Instances)
        {
            throw new UserInputException(
                $"--border-class needs instance masks (object ids), but the masks in {record.Masks} are {(dataSet.Kind == MaskKind.Classes ? "class indices" : "binary")}; pass --mask-kind instances if they hold object ids.");
        }

        return dataSet.Kind == MaskKind.Classes && record.Spec.Classes is null
            ? record with { Spec = record.Spec with { Classes = dataSet.Classes, ClassNames = dataSet.ClassNames is { } names ? string.Join(',', names) : null } }
            : record;
    }

    /// <summary>
    /// Holds the run folder for this process while it trains: a second <c>unet train</c> on the same folder would take
    /// the first one's job over (the job's state lives in the folder) until both failed, so it is refused, before it
    /// writes anything. The lock is the exclusive open of <c>.lock</c> (an advisory lock on Linux), let go when the
    /// process ends however it ends; the file itself may stay.
    /// </summary>
    private static FileStream LockRunFolder(string folder)
    {
        var path = Path.Combine(folder, ".lock");
        try
        {
            Directory.CreateDirectory(folder);
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e) when (File.Exists(path))
        {
            throw new UserInputException(
                $"--out {folder} is in use by another unet train (it holds {path}); expected a run folder no other training is using: wait for that one to end, or give another --out.", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"--out {folder} cannot be written ({e.Message}); expected a folder you can write.", e);
        }
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
        ClassesOption.Require(request.Overrides.Classes, request.MaskKind);
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
                "--resume continues a run with its own preset, seed, data and options; only --steps, --minutes and the validation options " +
                "(--validate-every, --validate-minutes, --select-by, --patience) may be given with it.");
        }

        var record = run.ReadRecord();
        var spec = record.Spec with
        {
            Steps = request.Overrides.Steps ?? record.Spec.Steps,
            Minutes = request.Overrides.Minutes ?? record.Spec.Minutes,
            ValidateEvery = request.Overrides.ValidateEvery ?? record.Spec.ValidateEvery,
            ValidateMinutes = request.Overrides.ValidateMinutes ?? record.Spec.ValidateMinutes,
            SelectBy = request.Overrides.SelectBy ?? record.Spec.SelectBy,
            Patience = request.Overrides.Patience ?? record.Spec.Patience,
        };
        return (run, record with { Spec = spec, Options = JobOptions.Build(spec), Unlabelled = request.Unlabelled ?? record.Unlabelled, MaskKind = request.MaskKind ?? record.MaskKind });
    }

    private static IReadOnlyList<GrayImage> LoadUnlabelled(string path, bool firstOnly, ImageLimits limits)
    {
        var images = DataSetLoader.LoadImages(path, limits);
        return firstOnly ? images.Take(1).ToList() : images;
    }

    private static string NormalisationName(IntensityNormalisation normalisation) => normalisation.Kind == NormalisationKind.Percentile
        ? string.Create(CultureInfo.InvariantCulture, $"percentile {normalisation.LowPercentile:0.###}-{normalisation.HighPercentile:0.###}")
        : "mean-std";

    private static string Describe(JobStatus status) => status.State switch
    {
        JobState.Cancelled => status.Checkpoint is null ? "interrupted before the first step" : "interrupted; checkpoint written",
        JobState.Failed => "failed",
        _ => status.StopReason ?? "all steps done",
    };
}
