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
        var command = new Command("evaluate", "Score predicted masks against ground truth.") { predictions, masks, json };
        command.SetAction((parse, _) => CommandRunner.RunAsync(error, () =>
        {
            var rows = Evaluate(parse.GetValue(predictions)!, parse.GetValue(masks)!);
            var mean = SegmentationMetrics.Mean(rows.Select(r => r.Scores));
            if (parse.GetValue(json))
            {
                output.WriteLine(JsonSerializer.Serialize(
                    new { images = rows.Select(r => new { id = r.Id, scores = r.Scores }), mean }, CheckpointManifest.JsonOptions));
            }
            else
            {
                MetricsReport.Print(output, rows, mean);
            }

            return Task.FromResult(Cli.Ok);
        }));
        return command;
    }

    internal static IReadOnlyList<(string Id, SegmentationScores Scores)> Evaluate(string predictionsDirectory, string masksDirectory)
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
            var truth = ReadBinary(truthPath, problems);
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
        }

        if (problems.Count > 0)
        {
            throw new DataSetValidationException("Cannot evaluate", problems);
        }

        return rows;
    }

    private sealed record BinaryMask(int Width, int Height, byte[] Mask);

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
