using UNetCluster.Data.DataSets;

namespace UNetCluster.Client.Commands;

/// <summary>The one rule for <c>--classes</c> beside <c>--mask-kind</c>, for <c>unet train</c> and <c>unet dataset upload</c>.</summary>
internal static class ClassesOption
{
    /// <summary>
    /// <paramref name="classes"/> when it fits <paramref name="kind"/>; a count is for class masks only (binary and
    /// instance masks train 2 classes, or 3 with --border-class), and between 2 and <see cref="DataSetLoader.MaxClasses"/>.
    /// </summary>
    public static int? Require(int? classes, MaskKind? kind)
    {
        if (classes is not { } count)
        {
            return null;
        }

        if (kind != MaskKind.Classes)
        {
            throw new UserInputException(
                $"--classes {count} is for class-index masks: pass --mask-kind classes with it (binary and instance masks train 2 classes, or 3 with --border-class).");
        }

        if (count is < 2 or > DataSetLoader.MaxClasses)
        {
            throw new UserInputException($"--classes {count} is invalid: expected an integer from 2 to {DataSetLoader.MaxClasses}.");
        }

        return count;
    }
}
