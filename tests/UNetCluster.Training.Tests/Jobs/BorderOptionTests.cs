using UNetCluster.Data.DataSets;
using UNetCluster.Data.Imaging;
using UNetCluster.Data.Labels;
using UNetCluster.Model.Training;
using UNetCluster.Training.Jobs;

namespace UNetCluster.Training.Tests.Jobs;

/// <summary><c>--border-width</c>, <c>--border-kind</c> and <c>--class-balance-exponent</c>: from the command line's overrides through a job spec to the target every worker trains on.</summary>
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
    public void Build_SpecFromClassBalanceExponent_BalancesTheClassesSoftenedOnEveryWorker()
    {
        var spec = JobOptions.Spec("nuclei", "nuclei", 42, new TrainingOverrides { ClassBalanceExponent = 0.5 });
        var options = JobOptions.Build(spec);

        Assert.Equal(0.5, spec.ClassBalanceExponent);
        Assert.Equal((true, 0.5), (options.WeightMap.BalanceClasses, options.WeightMap.BalanceExponent));
        Assert.True(new TrainingOverrides { ClassBalanceExponent = 0.5 }.ChangesTheModel);
        // Without it the preset's weight map stands: no class balance.
        var preset = JobOptions.Build(JobOptions.Spec("nuclei", "nuclei", 42, new TrainingOverrides())).WeightMap;
        Assert.Equal((false, 1.0), (preset.BalanceClasses, preset.BalanceExponent));
    }

    [Theory]
    [InlineData(0.0, null, "--class-balance-exponent 0 is invalid: expected a number in (0, 1]")]
    [InlineData(2.0, null, "--class-balance-exponent 2 is invalid: expected a number in (0, 1]")]
    [InlineData(0.5, false, "--class-balance-exponent 0.5 contradicts --no-class-balance")]
    public void ApplyTo_ClassBalanceExponentOutOfRangeOrContradicted_IsRefusedNamingTheOption(double exponent, bool? balance, string expected)
    {
        var overrides = new TrainingOverrides(BalanceClasses: balance) { ClassBalanceExponent = exponent };

        var error = Assert.Throws<ArgumentException>(() => overrides.ApplyTo(Presets.Get("tiny")));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    /// <summary>One row of two 3-pixel objects touching in the middle, in a 6x3 instance mask (rows 0 and 2 background).</summary>
    private static LabelledSection TwoTouchingObjects()
    {
        ushort[] ids = [0, 0, 0, 0, 0, 0, 4, 4, 4, 7, 7, 7, 0, 0, 0, 0, 0, 0];
        var (target, objects, border) = InstanceTargets.FromWithBorder(new GrayImage(6, 3, ids, 16, "ids.png"));
        return new LabelledSection("ids", new GrayImage(6, 3, new ushort[18], 8, "image.png"), target) { Kind = MaskKind.Instances, Instances = objects, Border = border };
    }
}
