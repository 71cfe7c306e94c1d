using UNetCluster.Data.DataSets;
using UNetCluster.Data.Imaging;
using UNetCluster.Data.Labels;
using UNetCluster.Model.Training;
using UNetCluster.Training.Jobs;

namespace UNetCluster.Training.Tests.Jobs;

/// <summary><c>--border-width</c> and <c>--border-kind</c>: from the command line's overrides through a job spec to the target every worker trains on.</summary>
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

    [Theory]
    [InlineData(false, 2, "--border-width 2 is invalid: expected 1 without --border-class")]
    [InlineData(true, 9, "--border-width 9 is invalid: expected an integer from 1 to 8")]
    [InlineData(true, 0, "--border-width 0 is invalid: expected an integer from 1 to 8")]
    [InlineData(false, 1, "--border-kind outline is invalid: expected touching without --border-class", "outline")]
    [InlineData(true, 1, "--border-kind 'ring' is unknown: expected touching or outline", "ring")]
    public void ApplyTo_BorderWidthOrKindInvalidOrWithoutBorderClass_IsRefusedNamingTheOption(bool borderClass, int width, string expected, string? kind = null)
    {
        var overrides = new TrainingOverrides(BorderClass: borderClass ? true : null) { BorderWidth = width, BorderKind = kind };

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
