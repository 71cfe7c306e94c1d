using System.CommandLine;
using System.Text.Json;
using UNetCluster.Client.Display;
using UNetCluster.Data.DataSets;
using UNetCluster.Data.Imaging;
using UNetCluster.Model.Checkpoints;
using UNetCluster.Model.Inference;
using UNetCluster.Model.Metrics;

namespace UNetCluster.Client.Commands;

/// <summary>
/// <c>unet evaluate</c>: compares predicted masks with ground-truth masks, paired by file name
/// (<c>slice-07.mask.png</c> or <c>slice-07.png</c> with <c>slice-07.png</c>), and prints pixel error, foreground
/// IoU, Dice and the ISBI 2012 Rand error per image and on average.
/// </summary>
internal static class EvaluateCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var predictions = new Option<string>("--predictions") { Description = "Folder of predicted masks (255 or 1 = cell, 0 = membrane), e.g. the *.mask.png that predict writes.", Required = true };
        var masks = new Option<string>("--masks") { Description = "Folder of ground-truth masks, same file names.", Required = true };
        var json = new Option<bool>("--json") { Description = "Print the scores as JSON." };
        var maskKind = new Option<MaskKind>("--mask-kind")
        {
            Description = "What the ground-truth masks hold: auto (binary; 16-bit masks with several values are object ids), binary, or instances " +
                "(object ids: adds object precision, recall and F1 at IoU 0.5, F1 averaged over IoU 0.5..0.95, and merged and split objects).",
            DefaultValueFactory = _ => MaskKind.Auto,
        };
        var command = new Command("evaluate", "Score predicted masks against ground truth.") { predictions, masks, json, maskKind };
        command.SetAction((parse, _) => CommandRunner.RunAsync(error, () =>
        {
            var objects = new List<(string Id, ObjectScores Scores)>();
            var rows = Evaluate(parse.GetValue(predictions)!, parse.GetValue(masks)!, parse.GetValue(maskKind), objects);
            var mean = SegmentationMetrics.Mean(rows.Select(r => r.Scores));
            if (parse.GetValue(json))
            {
                object document = objects.Count == 0
                    ? new { images = rows.Select(r => new { id = r.Id, scores = r.Scores }), mean }
                    : new { images = rows.Select(r => new { id = r.Id, scores = r.Scores, objects = objects.FirstOrDefault(o => o.Id == r.Id).Scores }), mean, objects = ObjectMetrics.Mean(objects.Select(o => o.Scores)) };
                output.WriteLine(JsonSerializer.Serialize(document, CheckpointManifest.JsonOptions));
            }
            else
            {
                MetricsReport.Print(output, rows, mean);
                PrintObjects(output, objects);
            }

            return Task.FromResult(Cli.Ok);
        }));
        return command;
    }

    internal static IReadOnlyList<(string Id, SegmentationScores Scores)> Evaluate(
        string predictionsDirectory, string masksDirectory, MaskKind maskKind = MaskKind.Auto, List<(string Id, ObjectScores Scores)>? objects = null)
    {
        var problems = new List<string>();
        var truths = DataSetLoader.ListImageFiles(masksDirectory, "--masks", problems);
        var predicted = DataSetLoader.ListImageFiles(predictionsDirectory, "--predictions", problems)
            .GroupBy(p => Stem(p, PredictionWriter.MaskSuffix), StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        var rows = new List<(string, SegmentationScores)>();
        foreach (var truthPath in truths)
        {
            var id = Path.GetFileNameWithoutExtension(truthPath);
            if (!predicted.TryGetValue(id, out var candidates))
            {
                problems.Add($"{truthPath}: no prediction named {id}{PredictionWriter.MaskSuffix} or {id}.png in {predictionsDirectory}");
                continue;
            }

            var predictionPath = candidates.FirstOrDefault(c => c.EndsWith(PredictionWriter.MaskSuffix, StringComparison.OrdinalIgnoreCase)) ?? candidates[0];
            var truth = ReadTruth(truthPath, maskKind, problems);
            var prediction = ReadBinary(predictionPath, problems);
            if (truth is null || prediction is null)
            {
                continue;
            }

            if (truth.Width != prediction.Width || truth.Height != prediction.Height)
            {
                problems.Add($"{predictionPath}: {prediction.Width}x{prediction.Height}, but its ground truth {truthPath} is {truth.Width}x{truth.Height}; expected the same size");
                continue;
            }

            rows.Add((id, SegmentationMetrics.Score(prediction.Mask, truth.Mask, truth.Width, truth.Height)));
            if (truth.Instances is { } ids)
            {
                objects?.Add((id, ObjectMetrics.Score(prediction.Mask, ids, truth.Width, truth.Height)));
            }
        }

        if (problems.Count > 0)
        {
            throw new DataSetValidationException("Cannot evaluate", problems);
        }

        return rows;
    }

    private sealed record BinaryMask(int Width, int Height, byte[] Mask, int[]? Instances = null);

    /// <summary>A ground-truth mask: binary, or object ids (16-bit with several values under auto, any with instances).</summary>
    private static BinaryMask? ReadTruth(string path, MaskKind kind, List<string> problems)
    {
        try
        {
            var image = ImageReader.Read(path);
            switch (DataSetLoader.Classify(image, kind, out var binary, out var problem))
            {
                case MaskKind.Binary:
                    return new BinaryMask(image.Width, image.Height, binary!);
                case MaskKind.Instances:
                    var ids = image.Values.Select(v => (int)v).ToArray();
                    return new BinaryMask(image.Width, image.Height, [.. ids.Select(v => v == 0 ? (byte)0 : (byte)1)], ids);
                default:
                    problems.Add($"{path}: {problem}");
                    return null;
            }
        }
        catch (InvalidImageException e)
        {
            problems.Add(e.Message);
            return null;
        }
    }

    private static void PrintObjects(TextWriter output, IReadOnlyList<(string Id, ObjectScores Scores)> objects)
    {
        if (ObjectMetrics.Mean(objects.Select(o => o.Scores)) is not { } mean)
        {
            return;
        }

        output.WriteLine();
        output.WriteLine("Objects (instance ground truth; predicted objects are the connected components of the predicted mask):");
        foreach (var (id, s) in objects.Append(("mean", mean)))
        {
            output.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"  {id,-20} F1@0.5 {s.F1:F3}  mean F1@0.5:0.95 {s.MeanF1:F3}  precision {s.Precision:F3}  recall {s.Recall:F3}  " +
                $"{s.Matched}/{s.Truth} matched, {s.Predicted} predicted, {s.Merged} merged, {s.Split} split"));
        }
    }

    private static BinaryMask? ReadBinary(string path, List<string> problems)
    {
        try
        {
            var image = ImageReader.Read(path);
            if (DataSetLoader.TryBinarise(image, out var problem) is not { } mask)
            {
                problems.Add($"{path}: {problem}");
                return null;
            }

            return new BinaryMask(image.Width, image.Height, mask);
        }
        catch (InvalidImageException e)
        {
            problems.Add(e.Message);
            return null;
        }
    }

    private static string Stem(string path, string suffix)
    {
        var name = Path.GetFileName(path);
        return name.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)
            ? name[..^suffix.Length]
            : Path.GetFileNameWithoutExtension(name);
    }
}
