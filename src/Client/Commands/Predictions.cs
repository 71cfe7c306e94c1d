using UNetCluster.Data.DataSets;
using UNetCluster.Data.Imaging;
using UNetCluster.Model.Inference;
using UNetCluster.Model.Metrics;
using UNetCluster.Model.Modules;
using UNetCluster.Model.Training;

namespace UNetCluster.Client.Commands;

/// <summary>Overlap-tile prediction of images and labelled sections, writing the PNGs a person looks at.</summary>
internal static class Predictions
{
    /// <summary>Predicts each labelled section, writes its files (overlay with misses) and returns its scores.</summary>
    public static IReadOnlyList<(string Id, SegmentationScores Scores)> PredictLabelled(
        UNet model, int tileSize, IEnumerable<LabelledSection> sections, string directory, double threshold)
    {
        var predictor = new OverlapTilePredictor(model, tileSize);
        var results = new List<(string, SegmentationScores)>();
        foreach (var section in sections)
        {
            using var image = TrainingData.ImageTensor(section.Image);
            using var probabilities = predictor.PredictProbabilities(image);
            var files = PredictionWriter.Write(directory, FileStem(section.Id), section.Image, probabilities, section.Mask, threshold);
            results.Add((section.Id, SegmentationMetrics.Score(files.Mask, section.Mask, section.Image.Width, section.Image.Height)));
        }

        return results;
    }

    /// <summary>Predicts images of any size and writes their files; returns the paths of the overlays.</summary>
    public static IReadOnlyList<string> PredictImages(UNet model, int tileSize, IEnumerable<GrayImage> images, string directory, double threshold)
    {
        var predictor = new OverlapTilePredictor(model, tileSize);
        var written = new List<string>();
        foreach (var image in images)
        {
            using var input = TrainingData.ImageTensor(image);
            using var probabilities = predictor.PredictProbabilities(input);
            var name = Path.GetFileNameWithoutExtension(image.Source) + (image.Page > 0 ? $"-p{image.Page}" : string.Empty);
            written.Add(PredictionWriter.Write(directory, name, image, probabilities, threshold: threshold).OverlayPng);
        }

        return written;
    }

    private static string FileStem(string id) => id.Replace('#', '-');
}
