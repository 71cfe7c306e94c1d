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
        var checkpoint = new Option<string>("--checkpoint") { Description = "A checkpoint folder, or a checkpoints or run folder (uses its best checkpoint by validation, else its latest).", Required = true };
        var latest = new Option<bool>("--latest") { Description = "With a checkpoints or run folder: use its latest checkpoint, not its best by validation." };
        var input = new Option<string>("--input") { Description = "An image (PNG or TIFF, any size; TIFF stacks give one prediction per page) or a folder of them.", Required = true };
        var outDir = new Option<string>("--out") { Description = "Folder for the probability, mask and overlay PNGs (for more than two classes also the class-index PNG, per-class probabilities and a colour overlay with a legend).", Required = true };
        var tile = new Option<int?>("--tile") { Description = "Input tile size (default: the training tile size)." };
        var threshold = new Option<double?>("--threshold")
        {
            Description = "Cell probability from which a pixel is cell; for a --border-class model, the interior probability from which a pixel seeds an object " +
                "(default: the checkpoint's calibrated threshold, else 0.5).",
        };
        var instances = new Option<bool?>("--instances")
        {
            Description = "Also write {name}.instances.png: 16-bit object labels, the connected components of the mask (for models trained with --mask-kind instances; " +
                "with --border-class, seeds of interior probability at least --threshold grown over the foreground). At most 65535 objects per image. " +
                "Default: on for checkpoints trained with --border-class (their mask is the interior only), off otherwise; --instances false turns it off.",
        };
        var minObjectPixels = new Option<int>("--min-object-pixels")
        {
            Description = "With object labels: leave out objects of fewer pixels (default 0: keep all), e.g. the fragments a model predicts on dim images.",
        };
        var maxPixels = new ImageLimitOption();
        var tta = new Option<bool>("--tta") { Description = "Average the probabilities over the 8 flips and 90-degree rotations of each image (8 times slower)." };
        var device = new DeviceOption();
        var precision = new Option<string?>("--precision") { Description = "Number format of the forward pass: fp32 (default) or bf16 (a bf16 copy of the checkpoint's fp32 weights; softmax in fp32)." };
        var command = new Command("predict", "Predict segmentations with a trained checkpoint.") { checkpoint, latest, input, outDir, tile, threshold, instances, minObjectPixels, tta, maxPixels.Option, device.Option, precision };
        command.SetAction((parse, _) => CommandRunner.RunAsync(error, () =>
        {
            var format = TrainingOverrides.ParsePrecision(parse.GetValue(precision) ?? "fp32");
            var on = device.Resolve(parse);   // an unreachable CUDA device is refused before anything is read
            var images = DataSetLoader.LoadImages(parse.GetValue(input)!, maxPixels.Limits(parse));
            var outDirectory = Path.GetFullPath(parse.GetValue(outDir)!);
            Predictions.RequireDistinctOutputs(images, outDirectory);
            OutputFolder.Require(outDirectory, "--out");
            using var loaded = CheckpointLocator.Load(parse.GetValue(checkpoint)!, message => error.WriteLine($"warning: {message.TrimEnd('.')}; trying the checkpoint before it."), parse.GetValue(latest));
            Predictions.RequireChannels(images, loaded.Manifest.Model.InputChannels, $"checkpoint {loaded.Directory}");
            var tileSize = parse.GetValue(tile) ?? TrainingTileSize(loaded.Manifest);
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
            var classes = Classes(loaded.Manifest);
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

            // A border-class model's objects are only whole in its labels; the manifest does not record the mask kind of other runs.
            var labels = parse.GetValue(instances) ?? classes.BorderClass;
            if (parse.GetValue(minObjectPixels) is var smallest and < 0)
            {
                throw new UserInputException($"--min-object-pixels {smallest} is invalid: expected 0 or more pixels.");
            }

            var overlays = Predictions.PredictImages(model, tileSize, images, outDirectory, decision, labels, parse.GetValue(tta), classes, loaded.Manifest.Normalisation,
                parse.GetValue(minObjectPixels));
            foreach (var overlay in overlays)
            {
                output.WriteLine(overlay);
            }

            return Task.FromResult(Cli.Ok);
        }));
        return command;
    }

    /// <summary>What the checkpoint's classes mean: its training options' border class and class names.</summary>
    private static PredictionClasses Classes(CheckpointManifest manifest)
    {
        if (manifest.Training is not { } training)
        {
            return new PredictionClasses();
        }

        var border = training.TryGetProperty("borderClass", out var b) && b.ValueKind == JsonValueKind.True;
        var names = training.TryGetProperty("classNames", out var n) && n.ValueKind == JsonValueKind.Array
            ? n.EnumerateArray().Select(e => e.GetString() ?? string.Empty).ToList()
            : null;
        return new PredictionClasses(border, names);
    }

    private static int TrainingTileSize(CheckpointManifest manifest)
    {
        if (manifest.Training is { } training && training.TryGetProperty("tileSize", out var size) && size.ValueKind == JsonValueKind.Number)
        {
            return size.GetInt32();
        }

        return TileGeometry.NearestValidInputSizes(manifest.Model, 572).Above!.Value;
    }
}
