using UNetCluster.Data.Imaging;
using UNetCluster.Model.Inference;
using UNetCluster.Model.Modules;
using static TorchSharp.torch;

namespace UNetCluster.Model.Tests.Inference;

public sealed class ThresholdCalibrationTests
{
    [Fact]
    public void Calibrate_RealSections_PicksACandidateNoWorseThanTheArgMax()
    {
        using var scope = NewDisposeScope();
        manual_seed(11);
        using var model = new UNet(new UNetOptions(Depth: 2, BaseChannels: 16));
        var sections = TestSupport.BundledSections.Sections.Take(2)
            .Select(s => (Image: tensor(s.Image.Normalised(), [1, 512, 512]), Mask: tensor(s.Mask.Select(v => (long)(v != 0 ? 1 : 0)).ToArray(), [512, 512])))
            .ToList();

        var (threshold, error) = ThresholdCalibration.Calibrate(model, 124, sections);

        Assert.Contains(threshold, ThresholdCalibration.Candidates.Select(c => Math.Round(c, 2)));
        var predictor = new OverlapTilePredictor(model, 124);
        double wrongAtHalf = 0;
        foreach (var (image, mask) in sections)
        {
            wrongAtHalf += predictor.PredictProbabilities(image)[1].ge(0.5).ne(mask.to_type(ScalarType.Bool)).sum().item<long>();
        }

        Assert.True(error <= (wrongAtHalf / (2 * 512 * 512)) + 1e-12, $"calibrated {error} vs arg-max {wrongAtHalf / (2 * 512 * 512)}");
    }

    [Fact]
    public void Write_Threshold_DecidesTheMask()
    {
        using var scope = NewDisposeScope();
        var foreground = tensor(new float[] { 0.1f, 0.3f, 0.6f, 0.9f }, [1, 2, 2]);
        var probabilities = cat([1 - foreground, foreground], 0);                       // (2, 2, 2)
        var image = new GrayImage(2, 2, [0, 50, 100, 150], 8, "x.png");
        var folder = TestSupport.TemporaryDirectory();

        var low = PredictionWriter.Write(folder, "low", image, probabilities, threshold: 0.25);
        var half = PredictionWriter.Write(folder, "half", image, probabilities);

        Assert.Equal(new byte[] { 0, 1, 1, 1 }, low.Mask);
        Assert.Equal(new byte[] { 0, 0, 1, 1 }, half.Mask);
        Assert.Equal(new ushort[] { 0, 0, 255, 255 }, ImageReader.Read(half.MaskPng).Values);
    }
}
