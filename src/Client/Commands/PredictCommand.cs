using System.CommandLine;
using System.Text.Json;
using TorchSharp;
using UNetCluster.Data.DataSets;
using UNetCluster.Data.Imaging;
using UNetCluster.Model;
using UNetCluster.Model.Checkpoints;
using UNetCluster.Model.Inference;
using UNetCluster.Model.Training;
using UNetCluster.Training.Checkpoints;
using static TorchSharp.torch;

namespace UNetCluster.Client.Commands;

/// <summary><c>unet predict</c>: overlap-tile prediction of images of any size with a trained checkpoint.</summary>
internal static class PredictCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "A checkpoint folder, or a checkpoints or run folder (uses its best checkpoint by validation, else its latest); with --cluster, a checkpoint folder in the cluster's storage." };
        var latest = new Option<bool>("--latest") { Description = "With a checkpoints or run folder: use its latest checkpoint, not its best by validation." };
        var input = new Option<string>("--input") { Description = "An image (PNG or TIFF, any size; TIFF stacks give one prediction per page) or a folder of them; with --cluster, uploaded to the cluster's storage first." };
        var outDir = new Option<string>("--out") { Description = "Folder for the probability, mask and overlay PNGs (for more than two classes also the class-index PNG, per-class probabilities and a colour overlay with a legend); not with --cluster (see --download)." };
        var tile = new Option<int?>("--tile") { Description = "Input tile size (default: the training tile size)." };
        var threshold = new Option<double?>("--threshold")
        {
            Description = "Cell probability from which a pixel is cell; for a --border-class model, the interior probability from which a pixel seeds an object " +
                "(default: the checkpoint's calibrated threshold, else 0.5).",
        };
        var instances = new Option<bool?>("--instances")
        {
            Description = "Also write {name}.instances.png: 16-bit object labels (for models trained with --mask-kind instances): the connected components of the mask, " +
                "each split where the foreground probability holds two or more distinct peaks (touching objects) and grown back over the mask; with --border-class, " +
                "seeds of interior probability at least --threshold, split the same way, grown over the foreground. At most 65535 objects per image. " +
                "Default: on for checkpoints trained on instance masks (with --border-class, or validated against them), off otherwise; --instances false turns it off.",
        };
        var minObjectPixels = new Option<int?>("--min-object-pixels")
        {
            Description = "With object labels: leave out objects of fewer pixels, e.g. the fragments a model predicts on dim images (default: the size the run's validation " +
                "calibrated with its threshold for instance masks, else 0: keep all).",
        };
        var maxPixels = new ImageLimitOption();
        var tta = new Option<bool>("--tta") { Description = "Average the probabilities over the 8 flips and 90-degree rotations of each image (8 times slower)." };
        var device = new DeviceOption();
        var precision = Choices.Precision("Number format of the forward pass: fp32 (default) or bf16 (a bf16 copy of the checkpoint's fp32 weights; softmax in fp32).");
        var command = new Command("predict", "Predict segmentations with a trained checkpoint, here or as a job on a running cluster (--cluster).") { checkpoint, latest, input, outDir, tile, threshold, instances, minObjectPixels, tta, maxPixels.Option, device.Option, precision };
        var cluster = new ClusterPredict();
        cluster.AddTo(command);
        command.SetAction((parse, cancellationToken) => CommandRunner.RunAsync(error, () =>
        {
            if (parse.GetValue(cluster.Cluster))
            {
                if (parse.GetValue(outDir) is not null)
                {
                    throw new UserInputException("--out is for predicting here; a prediction job writes into the cluster's storage (predictions/{job}/): pass --download DIR to fetch its outputs.");
                }

                return cluster.RunAsync(parse, parse.GetValue(checkpoint), parse.GetValue(latest), parse.GetValue(input), parse.GetValue(tile), parse.GetValue(threshold),
                    parse.GetValue(instances), parse.GetValue(tta), parse.GetValue(precision), parse.GetValue(minObjectPixels), output, error, cancellationToken);
            }

            foreach (var (option, name) in new[] { (parse.GetValue(checkpoint), "--checkpoint"), (parse.GetValue(input), "--input"), (parse.GetValue(outDir), "--out") })
            {
                if (option is null)
                {
                    throw new UserInputException($"Option '{name}' is required (or --cluster to submit a prediction job to a running cluster).");
                }
            }

            var format = TrainingOverrides.ParsePrecision(parse.GetValue(precision) ?? "fp32");
            var on = device.Resolve(parse);   // an unreachable CUDA device is refused before anything is read
            var blockSize = parse.GetValue(cluster.BlockSize) ?? OverlapTilePredictor.DefaultBlockSize;
            if (blockSize is < 1 or > 65536)
            {
                throw new UserInputException($"--block-size {blockSize} is invalid: expected 1 to 65536 output pixels along a block's side.");
            }

            var images = DataSetLoader.LoadImages(parse.GetValue(input)!, maxPixels.Limits(parse));
            var outDirectory = Path.GetFullPath(parse.GetValue(outDir)!);
            Predictions.RequireDistinctOutputs(images, outDirectory);
            OutputFolder.Require(outDirectory, "--out");
            using var loaded = CheckpointLocator.Load(parse.GetValue(checkpoint)!, message => error.WriteLine($"warning: {message.TrimEnd('.')}; trying the checkpoint before it."), parse.GetValue(latest));
            Predictions.RequireChannels(images, loaded.Manifest.Model.InputChannels, $"checkpoint {loaded.Directory}");
            var tileSize = parse.GetValue(tile) ?? CheckpointPrediction.TrainingTileSize(loaded.Manifest);
            // Half of this machine's memory for the tiles' feature maps: the rest holds the images, their outputs and the model.
            var largest = images.MaxBy(i => Math.Max(i.Width, i.Height));
            OverlapTilePredictor.RequireTileFits(loaded.Manifest.Model, tileSize, largest?.Height ?? 1, largest?.Width ?? 1, MemoryEstimate.AvailableBytes() / 2,
                explicitTile: parse.GetValue(tile) is not null);
            var decision = parse.GetValue(threshold) ?? loaded.Manifest.Threshold ?? 0.5;
            if (decision is <= 0 or >= 1 || double.IsNaN(decision))
            {
                throw new UserInputException($"--threshold {decision} is invalid: expected a probability strictly between 0 and 1.");
            }
            set_num_threads(Environment.ProcessorCount);
            using var model = LocalCheckpointStore.CreateModel(loaded);
            model.to(format.ScalarType()).to(on.Device);
            var classes = CheckpointPrediction.Classes(loaded.Manifest);
            var count = loaded.Manifest.Model.Classes;
            output.WriteLine(FormattableString.Invariant(
                $"Checkpoint {loaded.Directory} (step {loaded.Manifest.Step}{(loaded.Manifest.Selection is { } best ? $", the best by validation: {best.Metric} {best.Value:0.####}" : "")}); predicting {images.Count} image(s) with {tileSize}x{tileSize} tiles, ") +
                (count == 2 ? FormattableString.Invariant($"threshold {decision:0.00}")
                    : classes.BorderClass ? FormattableString.Invariant($"{count} classes (the most probable per pixel; objects seeded from interior probability {decision:0.00})")
                    : $"{count} classes (the most probable per pixel)") +
                FormattableString.Invariant($", {format.ToString().ToLowerInvariant()} on {on.Description}."));
            if (count > 2)
            {
                var names = classes.Names ?? (classes.BorderClass ? ["background", "interior", "border"] : null);
                output.WriteLine("Classes: " + string.Join(", ", Enumerable.Range(0, count).Select(k =>
                {
                    var (r, g, b) = ClassOverlay.Colour(k);
                    var name = names is not null && k < names.Count ? $" {names[k]}" : string.Empty;
                    return k == 0 ? $"0{name} (untinted)" : $"{k}{name} (#{r:x2}{g:x2}{b:x2})";
                })) + $"; {{name}}{PredictionWriter.ClassesSuffix} holds the class index per pixel.");
            }

            var labels = parse.GetValue(instances) ?? CheckpointPrediction.ObjectLabels(loaded.Manifest);
            if (parse.GetValue(minObjectPixels) is { } given and < 0)
            {
                throw new UserInputException($"--min-object-pixels {given} is invalid: expected 0 or more pixels.");
            }

            var smallest = parse.GetValue(minObjectPixels) ?? loaded.Manifest.MinObjectPixels ?? 0;
            if (labels && smallest > 1)
            {
                output.WriteLine(FormattableString.Invariant($"Objects of fewer than {smallest} pixels are left out of the labels") +
                    (parse.GetValue(minObjectPixels) is null ? " (calibrated on the run's validation sections; --min-object-pixels 0 keeps them)." : "."));
            }

            var overlays = Predictions.PredictImages(model, tileSize, images, outDirectory, decision, labels, parse.GetValue(tta), classes, loaded.Manifest.Normalisation,
                blockSize, smallest);
            foreach (var overlay in overlays)
            {
                output.WriteLine(overlay);
            }

            return Task.FromResult(Cli.Ok);
        }));
        return command;
    }
}
