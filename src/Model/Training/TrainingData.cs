using UNetCluster.Data.DataSets;
using UNetCluster.Data.Imaging;
using UNetCluster.Data.WeightMaps;
using static TorchSharp.torch;

namespace UNetCluster.Model.Training;

/// <summary>One labelled section as tensors: image (C, H, W) normalised, mask (H, W) int64, weights (H, W) float32.</summary>
public sealed record SectionTensors(string Id, Tensor Image, Tensor Mask, Tensor Weights, LabelledSection Source) : IDisposable
{
    public void Dispose()
    {
        Image.Dispose();
        Mask.Dispose();
        Weights.Dispose();
    }
}

/// <summary>
/// A labelled data set split into training and validation sections, with the paper's weight map computed once per
/// training section. The validation sections are evenly spaced through the set (for 24 sections and 3 held out:
/// the 8th, 16th and 24th), never seen by training, and the split does not depend on the seed.
/// </summary>
public sealed class TrainingData : IDisposable
{
    private TrainingData(IReadOnlyList<SectionTensors> training, IReadOnlyList<LabelledSection> validation)
    {
        Training = training;
        Validation = validation;
    }

    public IReadOnlyList<SectionTensors> Training { get; }

    public IReadOnlyList<LabelledSection> Validation { get; }

    /// <summary>The indexes of the held-out sections among <paramref name="count"/>.</summary>
    public static IReadOnlySet<int> ValidationIndexes(int count, int held)
    {
        if (held >= count)
        {
            throw new ArgumentException(
                $"--validation-sections {held} leaves no section to train on: the data set has {count} labelled sections.");
        }

        var step = (double)count / held;
        return Enumerable.Range(1, held).Select(k => (int)Math.Round(k * step) - 1).ToHashSet();
    }

    /// <summary>The indexes of the sections trained on among <paramref name="count"/>, ascending: all but <see cref="ValidationIndexes"/>.</summary>
    public static int[] TrainingIndexes(int count, int held)
    {
        var validation = ValidationIndexes(count, held);
        return [.. Enumerable.Range(0, count).Where(i => !validation.Contains(i))];
    }

    public static TrainingData Create(LabelledDataSet dataSet, int validationSections, WeightMapOptions weightMap, IntensityNormalisation? normalisation = null)
    {
        ArgumentNullException.ThrowIfNull(dataSet);
        var sections = dataSet.Sections;
        var training = TrainingIndexes(sections.Count, validationSections);
        var validation = Enumerable.Range(0, sections.Count).Except(training).Select(i => sections[i]).ToList();
        return new TrainingData([.. training.Select(i => Tensors(sections[i], weightMap, normalisation))], validation);
    }

    /// <summary>
    /// The network input for an image, shape (C, H, W): each channel normalised as <paramref name="normalisation"/>
    /// says (null: zero mean, unit standard deviation), the one rule for training and prediction.
    /// </summary>
    public static Tensor ImageTensor(GrayImage image, IntensityNormalisation? normalisation = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        return tensor(image.Normalised(normalisation), [image.Channels, image.Height, image.Width]);
    }

    /// <summary>A training section as tensors, with its weight map computed.</summary>
    public static SectionTensors Tensors(LabelledSection section, WeightMapOptions weightMap, IntensityNormalisation? normalisation = null)
    {
        ArgumentNullException.ThrowIfNull(section);
        var (width, height) = (section.Image.Width, section.Image.Height);
        var mask = section.Mask.Select(v => (long)v).ToArray();   // LabelledSection masks are already 0/1
        var weights = WeightMap.Compute(section.Mask, width, height, weightMap, section.Instances);
        return new SectionTensors(
            section.Id,
            ImageTensor(section.Image, normalisation),
            tensor(mask, [height, width]),
            tensor(weights, [height, width]),
            section);
    }

    public void Dispose()
    {
        foreach (var section in Training)
        {
            section.Dispose();
        }
    }
}
