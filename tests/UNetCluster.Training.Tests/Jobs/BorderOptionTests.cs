using UNetCluster.Data.DataSets;
using UNetCluster.Data.Imaging;
using UNetCluster.Data.Labels;
using UNetCluster.Model.Training;
using UNetCluster.Training.Jobs;

namespace UNetCluster.Training.Tests.Jobs;

/// <summary><c>--border-width</c>, <c>--border-kind</c> and <c>--class-weights</c>: from the command line's overrides through a job spec to the target every worker trains on.</summary>
public sealed class BorderOptionTests
{
    [Fact]
    public void Build_SpecFromBorderWidthOverride_TrainsTheWiderBorderOnEveryWorker()
    {
        var spec = JobOptions.Spec("nuclei", "tiny", 42, new TrainingOverrides(BorderClass: true) { BorderWidth = 2 });

        var options = JobOptions.Build(spec);
        var target = TrainingData.Target(TwoTouchingObjects(), options.Model.Classes, options.BorderClass, options.BorderWidth);

        Assert.Equal(2, spec.BorderWidth);
        Assert.Equal((3, true, 2), (options.Model.Classes, options.BorderClass, options.BorderWidth));
        Assert.Equal(new byte[] { 1, 2, 2, 2, 2, 1 }, target[6..12]);
        Assert.Equal(1, JobOptions.Build(JobOptions.Spec("nuclei", "tiny", 42, new TrainingOverrides(BorderClass: true))).BorderWidth);
    }

    [Fact]
    public void Build_SpecFromOutlineOverride_TrainsEveryObjectsOutlineOnEveryWorker()
    {
        var spec = JobOptions.Spec("nuclei", "tiny", 42, new TrainingOverrides(BorderClass: true) { BorderKind = "outline" });

        var options = JobOptions.Build(spec);
        var target = TrainingData.Target(TwoTouchingObjects(), options.Model.Classes, options.BorderClass, options.BorderWidth, options.BorderKind);

        Assert.Equal("outline", spec.BorderKind);
        Assert.Equal(BorderKind.Outline, options.BorderKind);
        Assert.Equal(new byte[] { 2, 2, 2, 2, 2, 2 }, target[6..12]);   // a one-row object is all outline
    }

    [Fact]
    public void Build_SpecFromCoreOverride_TrainsEveryObjectButItsCoreAsBorderOnEveryWorker()
    {
        var spec = JobOptions.Spec("nuclei", "tiny", 42, new TrainingOverrides(BorderClass: true) { BorderKind = "core" });

        var options = JobOptions.Build(spec);
        // One 9x9 square in an 11x11 mask: its largest distance to its edge is 5, so the pixels 1 and 2 px from its edge are border.
        var ids = new ushort[11 * 11];
        for (var i = 0; i < ids.Length; i++)
        {
            ids[i] = (ushort)(i % 11 is >= 1 and <= 9 && i / 11 is >= 1 and <= 9 ? 4 : 0);
        }

        var (mask, objects, border) = InstanceTargets.FromWithBorder(new GrayImage(11, 11, ids, 16, "ids.png"));
        var square = new LabelledSection("ids", new GrayImage(11, 11, new ushort[ids.Length], 8, "image.png"), mask) { Kind = MaskKind.Instances, Instances = objects, Border = border };
        var target = TrainingData.Target(square, options.Model.Classes, options.BorderClass, options.BorderWidth, options.BorderKind);

        Assert.Equal("core", spec.BorderKind);
        Assert.Equal(BorderKind.Core, options.BorderKind);
        Assert.Equal(new byte[] { 0, 2, 2, 1, 1, 1, 1, 1, 2, 2, 0 }, target[55..66]);   // the middle row
    }

    [Theory]
    [InlineData(false, 2, "--border-width 2 is invalid: expected 1 without --border-class")]
    [InlineData(true, 9, "--border-width 9 is invalid: expected an integer from 1 to 8")]
    [InlineData(true, 0, "--border-width 0 is invalid: expected an integer from 1 to 8")]
    [InlineData(false, 1, "--border-kind outline is invalid: expected touching without --border-class", "outline")]
    [InlineData(true, 1, "--border-kind 'ring' is unknown: expected touching, outline or core", "ring")]
    [InlineData(false, 1, "--border-kind core is invalid: expected touching without --border-class", "core")]
    [InlineData(true, 2, "--border-width 2 is invalid: expected 1 with --border-kind core", "core")]
    public void ApplyTo_BorderWidthOrKindInvalidOrWithoutBorderClass_IsRefusedNamingTheOption(bool borderClass, int width, string expected, string? kind = null)
    {
        var overrides = new TrainingOverrides(BorderClass: borderClass ? true : null) { BorderWidth = width, BorderKind = kind };

        var error = Assert.Throws<ArgumentException>(() => overrides.ApplyTo(Presets.Get("tiny")));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_NucleiPreset_WeighsTheContactsThirtyUnlessTheClassesChange()
    {
        var preset = JobOptions.Build(JobOptions.Spec("nuclei", "nuclei", 42, new TrainingOverrides()));
        Assert.Equal(3, preset.Model.Classes);
        Assert.Equal([1.0, 1.0, 30.0], preset.WeightMap.ClassWeights!);
        Assert.False(preset.WeightMap.BalanceClasses);

        // Without the border class the model has 2 classes and the preset's three weights lapse (no balance, as the preset
        // has it); the class balance replaces them, and given weights replace them.
        var twoClasses = JobOptions.Build(JobOptions.Spec("nuclei", "nuclei", 42, new TrainingOverrides(BorderClass: false)));
        Assert.Equal((2, null, false), (twoClasses.Model.Classes, twoClasses.WeightMap.ClassWeights, twoClasses.WeightMap.BalanceClasses));
        var balanced = JobOptions.Build(JobOptions.Spec("nuclei", "nuclei", 42, new TrainingOverrides(BalanceClasses: true)));
        Assert.Equal((null, true), (balanced.WeightMap.ClassWeights, balanced.WeightMap.BalanceClasses));
        var given = JobOptions.Build(JobOptions.Spec("nuclei", "nuclei", 42, new TrainingOverrides { ClassWeights = [1, 1, 100] }));
        Assert.Equal([1.0, 1.0, 100.0], given.WeightMap.ClassWeights!);
    }

    [Fact]
    public void Build_SpecFromClassWeights_WeighsTheBorderClassOnEveryWorker()
    {
        var spec = JobOptions.Spec("nuclei", "tiny", 42, new TrainingOverrides(BorderClass: true) { ClassWeights = [1, 1, 100] });
        var options = JobOptions.Build(spec);
        var section = TwoTouchingObjects();
        var target = TrainingData.Target(section, options.Model.Classes, options.BorderClass, options.BorderWidth);

        var weights = Data.WeightMaps.WeightMap.Compute(target, 6, 3, options.WeightMap, section.Instances);

        Assert.Equal("1,1,100", spec.ClassWeights);
        Assert.False(options.WeightMap.BalanceClasses);
        // The two contact pixels (border class) weigh 100, the other object pixels 1.
        Assert.Equal([1f, 1f, 100f, 100f, 1f, 1f], weights[6..12]);
    }

    [Theory]
    [InlineData(false, null, "1,1", "--class-weights 1,1 is invalid: expected one weight per class (3)")]
    [InlineData(false, null, "1,0,5", "--class-weights 1,0,5 is invalid: expected numbers in (0, 10000]")]
    [InlineData(false, null, "1,x,5", "--class-weights '1,x,5' is invalid: expected one number per class separated by commas")]
    [InlineData(false, true, "1,1,5", "--class-weights contradicts --class-balance")]
    [InlineData(true, null, "1,1,5", "--class-weights 1,1,5 is invalid: expected one weight per class (2)")]
    public void Build_ClassWeightsWrongOrContradicted_IsRefusedNamingTheOption(bool twoClasses, bool? balance, string weights, string expected)
    {
        var spec = new Contracts.Jobs.JobSpec { Preset = "tiny", BorderClass = !twoClasses, BalanceClasses = balance, ClassWeights = weights };

        var error = Assert.Throws<ArgumentException>(() => JobOptions.Build(spec));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_SpecFromOversample_EveryWorkerPlacesItsTilesOverTheContacts()
    {
        var spec = JobOptions.Spec("nuclei", "tiny", 42, new TrainingOverrides(BorderClass: true) { Oversample = 1 });
        // Without augmentation, so that the windows are the tiles: an elastic deformation (sigma 10 px) can carry a contact
        // near a window's edge out of it.
        var options = JobOptions.Build(spec) with { BatchSize = 4, Augmentation = Data.Augmentation.AugmentationOptions.None };
        var uniform = options with { Oversample = 0 };

        Assert.Equal(1, spec.Oversample);
        Assert.Equal(1, options.Oversample);
        Assert.Equal(0, JobOptions.Build(JobOptions.Spec("nuclei", "tiny", 42, new TrainingOverrides(BorderClass: true))).Oversample);
        var withContact = BorderTilesSeen(options);
        var anywhere = BorderTilesSeen(uniform);
        Assert.Equal(12, withContact);          // every tile of 3 steps of 4 holds the two squares' contact
        Assert.InRange(anywhere, 0, 2);          // placed anywhere, few tiles of the 300 x 300 section reach its corner
    }

    [Theory]
    [InlineData(-0.5, "--oversample -0.5 is invalid: expected a share of the tiles from 0 to 1")]
    [InlineData(1.01, "--oversample 1.01 is invalid: expected a share of the tiles from 0 to 1")]
    public void Build_OversampleOutsideZeroToOne_IsRefusedNamingTheOption(double share, string expected)
    {
        var spec = new Contracts.Jobs.JobSpec { Preset = "tiny", BorderClass = true, Oversample = share };

        var error = Assert.Throws<ArgumentException>(() => JobOptions.Build(spec));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    /// <summary>How many of the tiles of three steps hold the border class, trained on one 300 x 300 section whose only contact is in a corner.</summary>
    private static int BorderTilesSeen(TrainingOptions options)
    {
        // Two 12 x 12 squares side by side at the top left (ids 3 and 5), touching along one column pair.
        const int Size = 300;
        var ids = new ushort[Size * Size];
        var pixels = new ushort[Size * Size];
        for (var i = 0; i < ids.Length; i++)
        {
            var (x, y) = (i % Size, i / Size);
            ids[i] = (ushort)(y is >= 4 and < 16 ? x switch { >= 4 and < 16 => 3, >= 16 and < 28 => 5, _ => 0 } : 0);
            pixels[i] = (ushort)(ids[i] != 0 ? 200 : (i * 7919) % 50);
        }

        var (target, objects, border) = InstanceTargets.FromWithBorder(new GrayImage(Size, Size, ids, 16, "ids.png"));
        var section = new LabelledSection("corner", new GrayImage(Size, Size, pixels, 8, "image.png"), target) { Kind = MaskKind.Instances, Instances = objects, Border = border };
        using var tensors = TrainingData.Tensors(section, options.WeightMap, options.Model.Classes, options.BorderClass, options.Normalisation, options.BorderWidth, options.BorderKind);
        using var engine = new GradientEngine(options, [tensors]);
        var seen = 0;
        engine.StepTensors = (name, tensor) =>
        {
            if (name == "masks")
            {
                for (var b = 0; b < tensor.shape[0]; b++)
                {
                    seen += (tensor[b] == InstanceTargets.BorderClass).any().item<bool>() ? 1 : 0;
                }
            }
        };
        for (var step = 0; step < 3; step++)
        {
            engine.ComputeGradient(step, [0, 1, 2, 3]);
        }

        return seen;
    }

    /// <summary>One row of two 3-pixel objects touching in the middle, in a 6x3 instance mask (rows 0 and 2 background).</summary>
    private static LabelledSection TwoTouchingObjects()
    {
        ushort[] ids = [0, 0, 0, 0, 0, 0, 4, 4, 4, 7, 7, 7, 0, 0, 0, 0, 0, 0];
        var (target, objects, border) = InstanceTargets.FromWithBorder(new GrayImage(6, 3, ids, 16, "ids.png"));
        return new LabelledSection("ids", new GrayImage(6, 3, new ushort[18], 8, "image.png"), target) { Kind = MaskKind.Instances, Instances = objects, Border = border };
    }
}
