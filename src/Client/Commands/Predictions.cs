using UNetCluster.Data.DataSets;
using UNetCluster.Data.Imaging;
using UNetCluster.Data.Labels;
using UNetCluster.Model.Inference;
using UNetCluster.Model.Metrics;
using UNetCluster.Model.Modules;
using UNetCluster.Model.Training;

namespace UNetCluster.Client.Commands;

/// <summary>Overlap-tile prediction of images and labelled sections, writing the PNGs a person looks at.</summary>
internal static class Predictions
{
    /// <summary>Predicts each labelled section, writes its files (overlay with misses) and returns its scores.</summary>
    /// <param name="objects">When given, the object scores of each section with instance ground truth are added to it,
    /// and those sections' object labels are written too.</param>
    /// <param name="classes">What the model's classes mean (<see cref="PredictionWriter.Write"/>).</param>
    /// <param name="normalisation">The checkpoint's (its training options'); null: mean/std.</param>
    /// <param name="classScores">When given, the per-class scores of each section with a class mask are added to it.</param>
    public static IReadOnlyList<(string Id, SegmentationScores Scores)> PredictLabelled(
        UNet model, int tileSize, IEnumerable<LabelledSection> sections, string directory, double threshold,
        List<(string Id, ObjectScores Scores)>? objects = null, PredictionClasses? classes = null, List<(string Id, ClassScores Scores)>? classScores = null,
        IntensityNormalisation? normalisation = null, int minObjectPixels = 0)
    {
        var all = sections.ToList();
        RequireDistinctOutputs(all.Select(s => (FileStem(s.Id), $"section {s.Id} ({s.Image.Source})", s.Image.Source)), directory);
        var predictor = new OverlapTilePredictor(model, tileSize);
        var results = new List<(string, SegmentationScores)>();
        foreach (var section in all)
        {
            using var image = TrainingData.ImageTensor(section.Image, normalisation);
            using var probabilities = predictor.PredictProbabilities(image);
            var files = PredictionWriter.Write(directory, FileStem(section.Id), section.Image, probabilities, section.Mask, threshold, instances: section.Instances is not null, classes, minObjectPixels);
            results.Add((section.Id, SegmentationMetrics.Score(files.Mask, section.Mask, section.Image.Width, section.Image.Height)));
            if (section.Instances is { } ids && files.Objects is { } predicted)
            {
                var truth = ConnectedComponents.FromIds(ids, section.Image.Width, section.Image.Height);
                objects?.Add((section.Id, ObjectMetrics.Score(predicted, files.ObjectCount, truth.Labels, truth.Count)));
            }

            if (section.Kind == MaskKind.Classes)
            {
                classScores?.Add((section.Id, ClassMetrics.Score(files.Classes, section.Mask, (int)probabilities.shape[0], classes?.Names)));
            }
        }

        return results;
    }

    /// <summary>
    /// Predicts images of any size and writes their files; returns the paths of the overlays. Refuses, before writing
    /// anything, images whose files would collide (<see cref="RequireDistinctOutputs(IReadOnlyList{GrayImage}, string)"/>).
    /// </summary>
    public static IReadOnlyList<string> PredictImages(
        UNet model, int tileSize, IEnumerable<GrayImage> images, string directory, double threshold, bool instances = false, bool augmented = false,
        PredictionClasses? classes = null, IntensityNormalisation? normalisation = null, int blockSize = OverlapTilePredictor.DefaultBlockSize, int minObjectPixels = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        var all = images.ToList();
        RequireDistinctOutputs(all, directory);
        RequireChannels(all, model.Options.InputChannels, "the checkpoint's network");
        var predictor = new OverlapTilePredictor(model, tileSize, blockSize: blockSize);
        var written = new List<string>();
        foreach (var image in all)
        {
            using var input = TrainingData.ImageTensor(image, normalisation);
            using var probabilities = augmented ? predictor.PredictProbabilitiesAugmented(input) : predictor.PredictProbabilities(input);
            written.Add(PredictionWriter.Write(directory, OutputStem(image), image, probabilities, threshold: threshold, instances: instances, classes: classes, minObjectPixels: minObjectPixels).OverlayPng!);
        }

        return written;
    }

    /// <summary>
    /// Throws a <see cref="UserInputException"/> naming every image whose channel count is not
    /// <paramref name="channels"/>, the input channels of <paramref name="what"/>; nothing is predicted or written then.
    /// </summary>
    public static void RequireChannels(IReadOnlyList<GrayImage> images, int channels, string what)
    {
        ArgumentNullException.ThrowIfNull(images);
        var wrong = images.Where(i => i.Channels != channels)
            .Select(i => $"{(i.Page > 0 ? $"{i.Source} (page {i.Page})" : i.Source)} has {DataSetLoader.Channels(i.Channels)}")
            .Distinct()
            .ToList();
        if (wrong.Count > 0)
        {
            throw new UserInputException(
                $"{string.Join("; ", wrong)}, but {what} takes {DataSetLoader.Channels(channels)}; expected images with " +
                $"{DataSetLoader.Channels(channels)} (gray is 1, RGB 3). Nothing was written.");
        }
    }

    /// <summary>
    /// The name an image's prediction files start with: its file's name without the extension, and <c>-p{page}</c>
    /// for the pages of a TIFF stack after the first. So <c>a.png</c> and <c>a.tif</c> both give <c>a</c>.
    /// </summary>
    public static string OutputStem(GrayImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        return Path.GetFileNameWithoutExtension(image.Source) + (image.Page > 0 ? $"-p{image.Page}" : string.Empty);
    }

    /// <summary>
    /// Throws a <see cref="UserInputException"/> naming both files when two images would write the same prediction
    /// files into <paramref name="directory"/> (<c>a.png</c> and <c>a.tif</c>; <c>a-p1.png</c> and page 1 of
    /// <c>a.tif</c>), the second silently replacing the first, or when a prediction file would replace one of the
    /// images. Names are compared ignoring case, as Windows and macOS file systems do.
    /// </summary>
    public static void RequireDistinctOutputs(IReadOnlyList<GrayImage> images, string directory)
    {
        ArgumentNullException.ThrowIfNull(images);
        RequireDistinctOutputs(
            images.Select(i => (OutputStem(i), i.Page > 0 ? $"{i.Source} (page {i.Page})" : i.Source, i.Source)), directory);
    }

    private static void RequireDistinctOutputs(IEnumerable<(string Stem, string What, string Source)> items, string directory)
    {
        var list = items.ToList();
        var inputs = list.Select(i => Path.GetFullPath(i.Source)).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var firstByStem = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (stem, what, _) in list)
        {
            if (!firstByStem.TryAdd(stem, what))
            {
                throw new UserInputException(
                    $"{firstByStem[stem]} and {what} would both be predicted into {Path.Combine(directory, stem)}.*.png " +
                    $"({stem}{PredictionWriter.ProbabilitySuffix}, {stem}{PredictionWriter.MaskSuffix}, {stem}{PredictionWriter.OverlaySuffix}), " +
                    "the second replacing the first; rename one of them (the names of the images to predict must differ " +
                    "in more than their extension), or predict them into separate --out folders. Nothing was written.");
            }

            foreach (var suffix in new[] { PredictionWriter.ProbabilitySuffix, PredictionWriter.MaskSuffix, PredictionWriter.OverlaySuffix, PredictionWriter.ClassesSuffix })
            {
                var output = Path.GetFullPath(Path.Combine(directory, stem + suffix));
                if (inputs.Contains(output))
                {
                    throw new UserInputException(
                        $"The prediction of {what} would be written to {output}, replacing that input image; choose an --out " +
                        "folder that does not hold the images. Nothing was written.");
                }
            }
        }
    }

    /// <summary>The name a labelled section's prediction files start with (its id, '#' made '-').</summary>
    public static string FileStem(string id) => id.Replace('#', '-');
}
