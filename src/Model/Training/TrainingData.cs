using UNetCluster.Data.DataSets;
using UNetCluster.Data.Labels;
using UNetCluster.Data.Imaging;
using UNetCluster.Data.Tiling;
using UNetCluster.Data.WeightMaps;
using static TorchSharp.torch;

namespace UNetCluster.Model.Training;

/// <summary>One labelled section as tensors: image (C, H, W) normalised, mask (H, W) int64, weights (H, W) float32.</summary>
public sealed record SectionTensors(string Id, Tensor Image, Tensor Mask, Tensor Weights, LabelledSection Source) : IDisposable
{
    private int[]? _focus;

    /// <summary>The pixels oversampled tiles are placed over (<see cref="TileSampler.FocusPixels"/> of the mask), found on first use.</summary>
    public IReadOnlyList<int> Focus => _focus ??= FindFocus();

    private int[] FindFocus()
    {
        using var mask = Mask.contiguous();
        return TileSampler.FocusPixels(mask.data<long>().ToArray());
    }

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

    /// <param name="classes">The model's classes (<see cref="Tensors"/>).</param>
    /// <param name="borderClass">Instance masks as three classes (<see cref="TrainingOptions.BorderClass"/>).</param>
    /// <param name="normalisation">The images' intensity normalisation; null: mean/std.</param>
    /// <param name="borderWidth">The border class's width in pixels on each side of a contact (<see cref="TrainingOptions.BorderWidth"/>).</param>
    public static TrainingData Create(LabelledDataSet dataSet, int validationSections, WeightMapOptions weightMap, int classes = 2, bool borderClass = false,
        IntensityNormalisation? normalisation = null, int borderWidth = 1,
        BorderKind borderKind = BorderKind.Touching)
    {
        ArgumentNullException.ThrowIfNull(dataSet);
        var sections = dataSet.Sections;
        var training = TrainingIndexes(sections.Count, validationSections);
        var validation = Enumerable.Range(0, sections.Count).Except(training).Select(i => sections[i]).ToList();
        return new TrainingData([.. training.Select(i => Tensors(sections[i], weightMap, classes, borderClass, normalisation, borderWidth, borderKind))], validation);
    }

    /// <summary>Every training section with the options' classes and targets.</summary>
    public static TrainingData Create(LabelledDataSet dataSet, TrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return Create(dataSet, options.ValidationSections, options.WeightMap, options.Model.Classes, options.BorderClass, options.Normalisation, options.BorderWidth, options.BorderKind);
    }

    /// <summary>
    /// The class per pixel a section is trained on: its mask, or with <paramref name="borderClass"/> an instance
    /// mask's three classes (<see cref="InstanceTargets.WithBorderClass"/>). Throws an <see cref="ArgumentException"/>
    /// naming the section when a class is not below <paramref name="classes"/>, or when <paramref name="borderClass"/>
    /// is asked of a mask that holds no object ids. The border is <paramref name="borderWidth"/> pixels wide on each
    /// side of a contact, or around every object with <see cref="BorderKind.Outline"/> (<see cref="InstanceTargets.Border"/>),
    /// or every object but its core with <see cref="BorderKind.Core"/> (<see cref="InstanceTargets.Core"/>).
    /// </summary>
    public static byte[] Target(LabelledSection section, int classes = 2, bool borderClass = false, int borderWidth = 1, BorderKind borderKind = BorderKind.Touching)
    {
        ArgumentNullException.ThrowIfNull(section);
        byte[] target;
        if (borderClass)
        {
            // The loader gives an instance mask's border and object ids together.
            if (section is not { Border: { } border, Instances: { } instances })
            {
                throw new ArgumentException(
                    $"--border-class needs instance masks (object ids, --mask-kind instances), but the mask of section {section.Id} ({section.Image.Source}) holds {(section.Kind == MaskKind.Classes ? "class indices" : "a binary mask")}.");
            }

            var (width, height) = (section.Image.Width, section.Image.Height);
            var (interior, wide) = borderKind == BorderKind.Core
                ? InstanceTargets.Core(section.Mask, border, instances, width, height)
                : borderWidth == 1 && borderKind == BorderKind.Touching
                ? (section.Mask, border)
                : InstanceTargets.Border(section.Mask, border, width, height, borderKind, borderWidth);
            target = InstanceTargets.WithBorderClass(interior, wide);
        }
        else
        {
            target = section.Mask;
        }

        if (target.Length > 0 && target.Max() is var largest && largest >= classes)
        {
            throw new ArgumentException(
                $"The mask of section {section.Id} ({section.Image.Source}) holds class {largest}, but the model has {classes} classes (0..{classes - 1}); pass --classes {largest + 1} or more.");
        }

        return target;
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

    /// <summary>A training section as tensors, with its weight map computed (<see cref="Target"/> for the classes).</summary>
    public static SectionTensors Tensors(LabelledSection section, WeightMapOptions weightMap, int classes = 2, bool borderClass = false, IntensityNormalisation? normalisation = null,
        int borderWidth = 1, BorderKind borderKind = BorderKind.Touching)
    {
        ArgumentNullException.ThrowIfNull(section);
        var (width, height) = (section.Image.Width, section.Image.Height);
        var target = Target(section, classes, borderClass, borderWidth, borderKind);
        var mask = target.Select(v => (long)v).ToArray();
        var weights = WeightMap.Compute(target, width, height, weightMap, section.Instances);
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
