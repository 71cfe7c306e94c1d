using System.CommandLine;
using System.Text.Json;
using UNetCluster.Client.Display;
using UNetCluster.Client.Output;
using UNetCluster.Data.DataSets;
using UNetCluster.Data.Imaging;
using UNetCluster.Data.Labels;
using UNetCluster.Model.Checkpoints;
using UNetCluster.Model.Inference;
using UNetCluster.Model.Metrics;

namespace UNetCluster.Client.Commands;

/// <summary>
/// <c>unet evaluate</c>: compares predicted masks with ground-truth masks, paired by file name
/// (<c>slice-07.mask.png</c> or <c>slice-07.png</c> with <c>slice-07.png</c>), and prints pixel error, foreground
/// IoU, Dice and the ISBI 2012 Rand error per image and on average; for instance ground truth also object scores,
/// for class masks (<c>--mask-kind classes</c>, predictions <c>slice-07.classes.png</c>) per-class Dice and IoU.
/// Where <c>predict --instances</c> wrote object labels (<c>slice-07.instances.png</c>), they are the prediction: its
/// foreground is every labelled pixel and its objects are the labels, so touching objects stay apart and a
/// <c>--border-class</c> model's objects keep their border (its mask is the interior only).
/// </summary>
internal static class EvaluateCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var predictions = new Option<string>("--predictions")
        {
            Description = "Folder of predicted masks (255 or 1 = cell, 0 = membrane), e.g. the *.mask.png that predict writes; " +
                "where predict also wrote {name}.instances.png (object labels), those labels are the prediction (not with --mask-kind classes).",
            Required = true,
        };
        var masks = new Option<string>("--masks") { Description = "Folder of ground-truth masks, same file names.", Required = true };
        var json = CliJson.Option("the scores: {images: [{id, scores, objects and merges | classes}], mean, objects | classes}; merges: each predicted object holding two or more true ones, with the boxes and sizes of both");
        var maskKind = Choices.MaskKind(
            "What the ground-truth masks hold: auto (default; binary, and 16-bit masks with several values are object ids), binary, instances " +
            "(object ids: adds object precision, recall and F1 at IoU 0.5, F1 averaged over IoU 0.5..0.95, merged and split objects, and where each merging prediction is), or classes " +
            "(class indices, scored against the predictions' {name}.classes.png: adds Dice and IoU per class and their mean over the foreground classes).");
        var classCount = new Option<int?>("--classes") { Description = "With --mask-kind classes: the class count (default: the largest index in the masks and predictions + 1); an index at or above it is refused." };
        var command = new Command("evaluate", "Score predicted masks against ground truth.") { predictions, masks, json, maskKind, classCount };
        command.SetAction((parse, _) => CommandRunner.RunAsync(error, () =>
        {
            var objects = new List<(string Id, ObjectComparison Objects)>();
            var classes = new List<(string Id, ClassScores Scores)>();
            var labelled = new List<string>();
            var kind = Choices.MaskKindOf(parse.GetValue(maskKind)) ?? MaskKind.Auto;
            var counts = new ForegroundCounts();
            var rows = Evaluate(parse.GetValue(predictions)!, parse.GetValue(masks)!, kind, objects, classes, ClassesOption.Require(parse.GetValue(classCount), kind), labelled, counts);
            var mean = SegmentationMetrics.Mean(rows.Select(r => r.Scores));
            var pooled = counts.Scores();
            if (parse.GetValue(json))
            {
                object document = (objects.Count, classes.Count) switch
                {
                    (0, 0) => new { images = rows.Select(r => new { id = r.Id, scores = r.Scores }), mean, pooled },
                    (_, 0) => new
                    {
                        images = rows.Select(r =>
                        {
                            var compared = objects.FirstOrDefault(o => o.Id == r.Id).Objects;
                            return new { id = r.Id, scores = r.Scores, objects = compared?.Scores, merges = compared?.Merges };
                        }),
                        mean,
                        pooled,
                        objects = ObjectMetrics.Mean(objects.Select(o => o.Objects.Scores)),
                    },
                    _ => new { images = rows.Select(r => new { id = r.Id, scores = r.Scores, classes = classes.FirstOrDefault(c => c.Id == r.Id).Scores }), mean, classes = ClassMetrics.Mean(classes.Select(c => c.Scores)) },
                };
                output.WriteLine(CliJson.Serialize(document));
            }
            else
            {
                MetricsReport.Print(output, rows, mean);
                if (classes.Count == 0 && rows.Count > 1 && pooled is not null)
                {
                    output.WriteLine(FormattableString.Invariant($"All images' pixels together: foreground IoU {pooled.ForegroundIoU:F4}, Dice {pooled.Dice:F4} (the table's mean is per image)."));
                }

                if (objects.Count == 0 && labelled.Count > 0)
                {
                    output.WriteLine($"Predicted foreground: {Source(labelled.Count, rows.Count, "the predicted mask")}.");
                }

                PrintObjects(output, objects, objects.Count(o => labelled.Contains(o.Id)));
                PrintMerges(output, objects);
                MetricsReport.PrintClasses(output, classes);
            }

            return Task.FromResult(Cli.Ok);
        }));
        return command;
    }

    /// <summary>
    /// Scores every ground-truth mask in <paramref name="masksDirectory"/> against its prediction: <c>{id}.classes.png</c>
    /// for <see cref="MaskKind.Classes"/>, else <c>{id}.instances.png</c> where present (its ids added to
    /// <paramref name="labelled"/>), else <c>{id}.mask.png</c> or <c>{id}.png</c>.
    /// </summary>
    internal static IReadOnlyList<(string Id, SegmentationScores Scores)> Evaluate(
        string predictionsDirectory, string masksDirectory, MaskKind maskKind = MaskKind.Auto, List<(string Id, ObjectComparison Objects)>? objects = null,
        List<(string Id, ClassScores Scores)>? classes = null, int? classCount = null, List<string>? labelled = null, ForegroundCounts? counts = null)
    {
        var problems = new List<string>();
        var truths = DataSetLoader.ListImageFiles(masksDirectory, "--masks", problems);
        var suffix = maskKind == MaskKind.Classes ? PredictionWriter.ClassesSuffix : PredictionWriter.MaskSuffix;
        bool IsLabels(string path) => maskKind != MaskKind.Classes && path.EndsWith(PredictionWriter.InstancesSuffix, StringComparison.OrdinalIgnoreCase);
        var predicted = DataSetLoader.ListImageFiles(predictionsDirectory, "--predictions", problems)
            .Where(p => maskKind != MaskKind.Classes || !p.EndsWith(PredictionWriter.MaskSuffix, StringComparison.OrdinalIgnoreCase))
            .GroupBy(p => Stem(p, IsLabels(p) ? PredictionWriter.InstancesSuffix : suffix), StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        var rows = new List<(string, SegmentationScores)>();
        var classMaps = new List<(string Id, byte[] Predicted, byte[] Truth)>();
        var table = maskKind == MaskKind.Classes ? ClassTable.Read(masksDirectory, problems) : null;
        foreach (var truthPath in truths)
        {
            var id = Path.GetFileNameWithoutExtension(truthPath);
            if (!predicted.TryGetValue(id, out var candidates))
            {
                var labels = maskKind == MaskKind.Classes ? string.Empty : $", {id}{PredictionWriter.InstancesSuffix}";
                problems.Add($"{truthPath}: no prediction named {id}{suffix}{labels} or {id}.png in {predictionsDirectory}");
                continue;
            }

            // Object labels first: a --border-class model's mask is the interior only, its labels the whole objects.
            var predictionPath = candidates.FirstOrDefault(IsLabels) ?? candidates.FirstOrDefault(c => c.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)) ?? candidates[0];
            var truth = ReadTruth(truthPath, maskKind, classCount, table, problems);
            var prediction = ReadPrediction(predictionPath, problems, maskKind == MaskKind.Classes
                ? image => ClassMask(predictionPath, image, classCount, problems)
                : IsLabels(predictionPath) ? image => IdMask(predictionPath, image, problems) : image => Binarised(predictionPath, image, problems));
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
            counts?.Add(SegmentationMetrics.CountForeground(prediction.Mask, truth.Mask));

            if (prediction.Instances is not null)
            {
                labelled?.Add(id);
            }

            if (truth.Instances is { } ids)
            {
                objects?.Add((id, prediction.Instances is { } predictedIds
                    ? ObjectMetrics.Compare(predictedIds, ids, truth.Width, truth.Height)
                    : ObjectMetrics.Compare(prediction.Mask, ids, truth.Width, truth.Height)));
            }

            if (truth.Classes is { } truthClasses && prediction.Classes is { } predictedClasses)
            {
                classMaps.Add((id, predictedClasses, truthClasses));
            }
        }

        if (problems.Count > 0)
        {
            throw new DataSetValidationException("Cannot evaluate", problems);
        }

        // One class count for every image: --classes, else the largest index seen + 1.
        var count = classCount ?? Math.Max(table?.Names.Count ?? 2, classMaps.Select(m => Math.Max(m.Predicted.Max(), m.Truth.Max()) + 1).DefaultIfEmpty(0).Max());
        classes?.AddRange(classMaps.Select(m => (m.Id, ClassMetrics.Score(m.Predicted, m.Truth, count, table?.Names))));

        return rows;
    }

    /// <summary>Foreground pixels summed over every image: of both masks, of the predictions, of the truths.</summary>
    internal sealed class ForegroundCounts
    {
        private long both, predicted, truth;

        public void Add((long Intersection, long Predicted, long Truth) image)
        {
            both += image.Intersection;
            predicted += image.Predicted;
            truth += image.Truth;
        }

        /// <summary>Foreground IoU and Dice over every image's pixels together; null with no foreground in any.</summary>
        public PooledScores? Scores() =>
            predicted + truth == 0 ? null
                : new PooledScores((double)both / (predicted + truth - both), 2.0 * both / (predicted + truth));
    }

    internal sealed record PooledScores(double ForegroundIoU, double Dice);

    /// <summary>A mask as scored: its foreground (<see cref="Mask"/>, non-zero = foreground), and its object ids or class indices.</summary>
    private sealed record BinaryMask(int Width, int Height, byte[] Mask, int[]? Instances = null, byte[]? Classes = null);

    /// <summary>A ground-truth mask: binary, object ids (16-bit with several values under auto, any with instances), or class indices.</summary>
    private static BinaryMask? ReadTruth(string path, MaskKind kind, int? classCount, ClassTable? table, List<string> problems)
    {
        try
        {
            var image = ImageReader.Read(path);
            switch (DataSetLoader.Classify(image, kind, out var binary, out var problem))
            {
                case MaskKind.Binary:
                    return new BinaryMask(image.Width, image.Height, binary!);
                case MaskKind.Classes:
                    return ClassMask(path, image, classCount, problems, table);
                case MaskKind.Instances:
                    return IdMask(path, image, problems);
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

    /// <summary>An object-id image (gray, or colours naming the objects) as a mask: foreground where the id is not 0, and the ids.</summary>
    private static BinaryMask? IdMask(string path, GrayImage image, List<string> problems)
    {
        string? problem = null;
        var idImage = image.Channels > 1 ? DataSetLoader.IdsFromColours(image, out problem) : image;
        if (idImage is null)
        {
            problems.Add($"{path}: {problem}");
            return null;
        }

        var ids = idImage.Values.Select(v => (int)v).ToArray();
        return new BinaryMask(image.Width, image.Height, [.. ids.Select(v => v == 0 ? (byte)0 : (byte)1)], ids);
    }

    /// <summary>Where the predictions came from: the instance labels of <paramref name="labelled"/> of <paramref name="images"/> images, else <paramref name="otherwise"/>.</summary>
    private static string Source(int labelled, int images, string otherwise)
    {
        var labels = $"the predicted instance labels ({{id}}{PredictionWriter.InstancesSuffix})";
        return labelled == 0 ? otherwise
            : labelled == images ? labels
            : $"{labels} where present ({labelled} of {images} images), else {otherwise}";
    }

    private static void PrintObjects(TextWriter output, List<(string Id, ObjectComparison Objects)> objects, int labelled)
    {
        if (ObjectMetrics.Mean(objects.Select(o => o.Objects.Scores)) is not { } mean)
        {
            return;
        }

        output.WriteLine();
        output.WriteLine($"Objects (instance ground truth; predicted objects are {Source(labelled, objects.Count, "the connected components of the predicted mask")}):");
        foreach (var (id, s) in objects.Select(o => (o.Id, o.Objects.Scores)).Append(("mean", mean)))
        {
            output.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"  {id,-20} F1@0.5 {s.F1:F3}  mean F1@0.5:0.95 {s.MeanF1:F3}  precision {s.Precision:F3}  recall {s.Recall:F3}  " +
                $"{s.Matched}/{s.Truth} matched, {s.Predicted} predicted, {s.Merged} merged, {s.Split} split"));
        }
    }

    /// <summary>The most merging predictions the text lists; <c>--json</c> gives them all.</summary>
    internal const int MergesListed = 50;

    /// <summary>
    /// Each predicted object that merges true ones, where it is (x and y ranges, inclusive) and the true objects it
    /// holds, so that a person can look at them; at most <see cref="MergesListed"/>, then how many more.
    /// </summary>
    private static void PrintMerges(TextWriter output, List<(string Id, ObjectComparison Objects)> objects)
    {
        var all = objects.SelectMany(o => o.Objects.Merges.Select(m => (o.Id, Merge: m))).ToList();
        if (all.Count == 0)
        {
            return;
        }

        static string Where(ConnectedComponents.Box b) => FormattableString.Invariant($"x {b.MinX}-{b.MaxX}, y {b.MinY}-{b.MaxY}");
        output.WriteLine();
        output.WriteLine(FormattableString.Invariant(
            $"Merging predictions (each holds at least half of two or more true objects): {all.Count}, holding {all.Sum(m => m.Merge.Objects.Count)} true objects:"));
        foreach (var (id, merge) in all.Take(MergesListed))
        {
            var held = string.Join("; ", merge.Objects.Select(o => FormattableString.Invariant($"{o.Pixels} px at {Where(o.Box)}")));
            output.WriteLine(FormattableString.Invariant($"  {id,-20} {Where(merge.Box)} ({merge.Pixels} px) holds {merge.Objects.Count}: {held}"));
        }

        if (all.Count > MergesListed)
        {
            output.WriteLine(FormattableString.Invariant($"  ... and {all.Count - MergesListed} more (--json lists them all)."));
        }
    }

    /// <summary>A predicted file, read and turned into a mask by <paramref name="toMask"/>; null (with the problem) when it cannot be read.</summary>
    private static BinaryMask? ReadPrediction(string path, List<string> problems, Func<GrayImage, BinaryMask?> toMask)
    {
        try
        {
            return toMask(ImageReader.Read(path));
        }
        catch (InvalidImageException e)
        {
            problems.Add(e.Message);
            return null;
        }
    }

    private static BinaryMask? ClassMask(string path, GrayImage image, int? classCount, List<string> problems, ClassTable? table = null)
    {
        if (DataSetLoader.ClassIndices(image, classCount, out var problem, table) is not { } indices)
        {
            problems.Add($"{path}: {problem}");
            return null;
        }

        return new BinaryMask(image.Width, image.Height, [.. indices.Select(c => c == 0 ? (byte)0 : (byte)1)], Classes: indices);
    }

    /// <summary>A predicted binary mask ({name}.mask.png): 255 or 1 = foreground.</summary>
    private static BinaryMask? Binarised(string path, GrayImage image, List<string> problems)
    {
        if (DataSetLoader.TryBinarise(image, out var problem) is not { } mask)
        {
            problems.Add($"{path}: {problem}");
            return null;
        }

        return new BinaryMask(image.Width, image.Height, mask);
    }

    private static string Stem(string path, string suffix)
    {
        var name = Path.GetFileName(path);
        return name.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)
            ? name[..^suffix.Length]
            : Path.GetFileNameWithoutExtension(name);
    }
}
