using UNetCluster.Contracts.Jobs;
using UNetCluster.Contracts.Messages;
using UNetCluster.Model.Metrics;
using UNetCluster.Training.Coordination;

namespace UNetCluster.Training.Tests.Coordination;

/// <summary>How the coordinator turns the workers' scored sections into one validation: the candidate best over all sections.</summary>
public sealed class ValidationChoiceTests
{
    [Fact]
    public void Choose_ObjectF1WithSizes_RecordsTheThresholdAndSmallestObjectSizeBestOverAllSections()
    {
        // Candidates (size, threshold): (0, 0.4) (0, 0.6) (16, 0.4) (16, 0.6). Section a gains from size 16 at 0.4, b loses
        // a little from it; over both, (16, 0.4) is best.
        double[] thresholds = [0.4, 0.6, 0.4, 0.6];
        int[] sizes = [0, 0, 16, 16];
        var a = Section("a", thresholds, sizes, [0.60, 0.70, 0.90, 0.75]);
        var b = Section("b", thresholds, sizes, [0.80, 0.70, 0.78, 0.70]);

        var result = ValidationChoice.Choose([a, b], ValidationMetric.ObjectF1, step: 100, seconds: 1);

        Assert.Equal((0.4, 16), (result.Threshold, result.MinObjectPixels));
        Assert.Equal((0.90 + 0.78) / 2, result.Value, 6);
        Assert.Equal(0.05, result.PixelError, 6);
        Assert.Equal(0.06, result.StandardError, 6);   // values 0.90 and 0.78: standard deviation 0.0849, over the square root of 2
    }

    [Fact]
    public void Choose_ObjectF1_RecordsTheThresholdNearestHalfWithinOneStandardErrorOfTheBest()
    {
        // 0.9 has the best mean (0.9067) but the sections disagree on it: 0.5 loses 0.15 and 0.07 and gains 0.10 (paired
        // error 0.074 against a mean loss of 0.04), so the validation records 0.5 and its own scores.
        double[] thresholds = [0.5, 0.9];
        int[] sizes = [0, 0];
        var a = Section("a", thresholds, sizes, [0.80, 0.95]);
        var b = Section("b", thresholds, sizes, [0.95, 0.85]);
        var c = Section("c", thresholds, sizes, [0.85, 0.92]);

        var result = ValidationChoice.Choose([a, b, c], ValidationMetric.ObjectF1, step: 100, seconds: 1);

        Assert.Equal(0.5, result.Threshold);
        Assert.Equal((0.80 + 0.95 + 0.85) / 3, result.Value, 6);
        Assert.Equal([0.80, 0.95, 0.85], result.SectionValues!);
    }

    [Fact]
    public void Choose_PixelErrorWithSizes_KeepsEveryObject()
    {
        // Pixel scores do not depend on the size: among equal candidates the smallest size, 0, is kept.
        var section = Section("a", [0.4, 0.6, 0.4, 0.6], [0, 0, 16, 16], [0.5, 0.6, 0.9, 0.9]);

        var result = ValidationChoice.Choose([section], ValidationMetric.PixelError, step: 1, seconds: 1);

        Assert.Equal(0, result.MinObjectPixels);
        Assert.Equal(0, result.StandardError);   // one section: no spread to measure
    }

    [Fact]
    public void Choose_SectionsScoredAtDifferentSizes_IsRefused()
    {
        var a = Section("a", [0.4, 0.4], [0, 16], [0.5, 0.6]);
        var b = Section("b", [0.4, 0.4], [0, 8], [0.5, 0.6]);

        var refused = Assert.Throws<InvalidOperationException>(() => ValidationChoice.Choose([a, b], ValidationMetric.ObjectF1, step: 1, seconds: 1));

        Assert.Contains("different smallest object sizes", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DifferenceError_SameSectionsInAnotherOrder_PairsThemById()
    {
        // Differences a: +0.02, b: +0.04, c: +0.06 (mean 0.04, standard deviation 0.02): standard error 0.02 / sqrt(3).
        var highest = new ValidationResult { Metric = "dice", SectionIds = ["a", "b", "c"], SectionValues = [0.80, 0.60, 0.90], StandardError = 0.09 };
        var later = new ValidationResult { Metric = "dice", SectionIds = ["c", "a", "b"], SectionValues = [0.96, 0.82, 0.64] };
        var other = new ValidationResult { Metric = "dice", SectionIds = ["a", "x"], SectionValues = [0.7, 0.7] };

        Assert.Equal(0.02 / Math.Sqrt(3), ValidationChoice.DifferenceError(later, highest), 9);
        Assert.Equal(0.09, ValidationChoice.DifferenceError(other, highest));   // one shared section: the highest's own error
    }

    [Fact]
    public void Choose_SectionsWithContacts_PoolsTheShareMarkedAsBorder()
    {
        // 30 of 100 contact pixels marked in a, none of 20 in b, c without contacts (no two objects touch there): 30 of 120.
        var a = Section("a", [0.5], [0], [0.8]) with { ContactPixels = 100, ContactsMarked = 30 };
        var b = Section("b", [0.5], [0], [0.8]) with { ContactPixels = 20, ContactsMarked = 0 };
        var c = Section("c", [0.5], [0], [0.8]);

        var pooled = ValidationChoice.Choose([a, b, c], ValidationMetric.ObjectF1, step: 1, seconds: 1);
        var none = ValidationChoice.Choose([c], ValidationMetric.ObjectF1, step: 1, seconds: 1);

        Assert.Equal((0.25, 120L), (pooled.ContactsMarked!.Value, pooled.ContactPixels!.Value));
        Assert.Equal((null, null), (none.ContactsMarked, none.ContactPixels));
    }

    private static SectionValidation Section(string id, double[] thresholds, int[] sizes, double[] f1) => new(
        id, thresholds,
        PixelError: [.. thresholds.Select(_ => 0.05)],
        RandError: [.. thresholds.Select(_ => 0.2)],
        Dice: [.. thresholds.Select(_ => 0.9)],
        IoU: [.. thresholds.Select(_ => 0.8)],
        ObjectF1: f1,
        ObjectMeanF1: [.. f1.Select(v => v / 2)],
        MinObjectPixels: sizes);
}
