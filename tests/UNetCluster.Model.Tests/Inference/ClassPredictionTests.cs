using UNetCluster.Data.Imaging;
using UNetCluster.Model.Inference;
using UNetCluster.Model.Losses;
using static TorchSharp.torch;

namespace UNetCluster.Model.Tests.Inference;

/// <summary>What <c>unet predict</c> writes for a model of more than two classes, and the multi-class losses.</summary>
public sealed class ClassPredictionTests
{
    [Fact]
    public void Write_ThreeClasses_WritesTheClassIndexPngPerClassProbabilitiesAndAnOverlayWithALegend()
    {
        using var scope = NewDisposeScope();
        // (3, 2, 2): the most probable class is 0, 1, 2, 2.
        var probabilities = tensor(new float[]
        {
            0.8f, 0.1f, 0.1f, 0.2f,
            0.1f, 0.7f, 0.1f, 0.1f,
            0.1f, 0.2f, 0.8f, 0.7f,
        }, [3, 2, 2]);
        var image = new GrayImage(2, 2, [0, 50, 100, 150], 8, "x.png");
        var folder = TestSupport.TemporaryDirectory();

        var files = PredictionWriter.Write(folder, "x", image, probabilities, classes: new PredictionClasses(Names: ["background", "gland", "stroma"]));

        Assert.Equal(new ushort[] { 0, 1, 2, 2 }, ImageReader.Read(files.ClassesPng!).Values);
        Assert.Equal(new ushort[] { 0, 255, 255, 255 }, ImageReader.Read(files.MaskPng).Values);   // the foreground: any class but 0
        Assert.Equal(new ushort[] { 26, 51, 204, 178 }, ImageReader.Read(Path.Combine(folder, "x.probability.2.png")).Values);
        var overlay = File.ReadAllBytes(files.OverlayPng!);
        var overlayHeight = (overlay[20] << 24) | (overlay[21] << 16) | (overlay[22] << 8) | overlay[23];   // IHDR height
        Assert.True(overlayHeight > 2 + (3 * 10), $"overlay {overlayHeight} px high: the image and a legend row per class below it");
    }

    [Fact]
    public void Write_BorderClassObjects_GrowsTheInteriorsIntoTheBorderBetweenThem()
    {
        using var scope = NewDisposeScope();
        // One row of 6: interior, border, border, interior, background, interior.
        long[] argmax = [1, 2, 2, 1, 0, 1];
        var probabilities = nn.functional.one_hot(tensor(argmax), 3).to_type(ScalarType.Float32).t().reshape(3, 1, 6);
        var image = new GrayImage(6, 1, new ushort[6], 8, "row.png");

        var files = PredictionWriter.Write(TestSupport.TemporaryDirectory(), "row", image, probabilities, instances: true, classes: new PredictionClasses(BorderClass: true));

        Assert.Equal(3, files.ObjectCount);
        Assert.Equal(new ushort[] { 1, 1, 2, 2, 0, 3 }, ImageReader.Read(files.InstancesPng!).Values);
        Assert.Equal(new byte[] { 1, 0, 0, 1, 0, 1 }, files.Mask);   // the interior
    }

    [Fact]
    public void Write_BorderClassTouchingObjectsWithNoBorderPredicted_SplitsThemWhereTheInteriorDipsBelowTheSeedThreshold()
    {
        using var scope = NewDisposeScope();
        // One row of 8, all foreground, no pixel most likely border: two objects whose interior probability dips between them.
        var interior = tensor(new[] { 0.8f, 0.95f, 0.8f, 0.6f, 0.6f, 0.8f, 0.95f, 0.8f });
        var background = full(8, 0.05f);
        var probabilities = stack([background, interior, 1 - interior - background]).reshape(3, 1, 8);
        var image = new GrayImage(8, 1, new ushort[8], 8, "row.png");
        var folder = TestSupport.TemporaryDirectory();

        var calibrated = PredictionWriter.Write(folder, "calibrated", image, probabilities, threshold: 0.7, instances: true, classes: new PredictionClasses(BorderClass: true));
        var argMax = PredictionWriter.Write(folder, "argmax", image, probabilities, threshold: 0.5, instances: true, classes: new PredictionClasses(BorderClass: true));

        Assert.Equal(new ushort[] { 1, 1, 1, 1, 2, 2, 2, 2 }, ImageReader.Read(calibrated.InstancesPng!).Values);
        Assert.Equal(1, argMax.ObjectCount);
        Assert.Equal(new byte[] { 1, 1, 1, 1, 1, 1, 1, 1 }, calibrated.Mask);   // the mask, the interior, does not depend on the seeds
    }

    [Fact]
    public void Write_MinObjectPixels_LeavesSmallerObjectsOutOfTheLabelsAndNumbersTheRestInOrder()
    {
        using var scope = NewDisposeScope();
        // One row of 9, two classes: a 1-pixel fragment, a 3-pixel object, a 2-pixel fragment.
        var foreground = tensor(new[] { 1f, 0f, 1f, 1f, 1f, 0f, 1f, 1f, 0f });
        var probabilities = stack([1 - foreground, foreground]).reshape(2, 1, 9);
        var image = new GrayImage(9, 1, new ushort[9], 8, "row.png");

        var files = PredictionWriter.Write(TestSupport.TemporaryDirectory(), "row", image, probabilities, instances: true, minObjectPixels: 3);

        Assert.Equal(1, files.ObjectCount);
        Assert.Equal(new ushort[] { 0, 0, 1, 1, 1, 0, 0, 0, 0 }, ImageReader.Read(files.InstancesPng!).Values);
        Assert.Equal(new byte[] { 1, 0, 1, 1, 1, 0, 1, 1, 0 }, files.Mask);   // the mask keeps them
    }

    [Fact]
    public void Write_MoreObjectsThanASixteenBitLabelHolds_RefusesSayingTheLimitAndWritesNothing()
    {
        using var scope = NewDisposeScope();
        // A 512x512 checkerboard of foreground: 131,072 objects of one pixel each (4-connectivity).
        var checkerboard = (arange(512).view(512, 1) + arange(512).view(1, 512)).remainder(2).to_type(ScalarType.Float32);
        var probabilities = stack([1 - checkerboard, checkerboard]);                                  // (2, 512, 512)
        var image = new GrayImage(512, 512, new ushort[512 * 512], 8, "dots.png");
        var folder = Path.Combine(TestSupport.TemporaryDirectory(), "out");

        var error = Assert.Throws<InvalidDataException>(() => PredictionWriter.Write(folder, "dots", image, probabilities, instances: true));

        Assert.Contains("dots.png: the prediction has 131072 objects", error.Message, StringComparison.Ordinal);
        Assert.Contains("(65535)", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(folder));
    }

    [Fact]
    public void DiceCrossEntropy_ThreeClasses_IsTheSumOfSoftDiceAndCrossEntropyAndLowWhenRight()
    {
        using var scope = NewDisposeScope();
        var target = tensor(new long[] { 0, 1, 2, 2 }, [1, 2, 2]);
        var right = nn.functional.one_hot(target, 3).permute(0, 3, 1, 2).to_type(ScalarType.Float32) * 20;   // (1, 3, 2, 2)
        var wrong = right.roll(1, 1);

        var compound = SegmentationLoss.Compute(LossKind.DiceCrossEntropy, wrong, target, null).item<float>();

        var sum = SegmentationLoss.SoftDice(wrong, target).item<float>() + SegmentationLoss.WeightedCrossEntropy(wrong, target, null).item<float>();
        Assert.Equal(sum, compound, 4);
        Assert.True(SegmentationLoss.Compute(LossKind.DiceCrossEntropy, right, target, null).item<float>() < 0.01);
        Assert.True(compound > 1);
    }
}
