namespace UNetCluster.Contracts.Jobs;

/// <summary>
/// A validation of a job's model at a committed step: the held-out sections predicted with the overlap-tile predictor
/// by the job's workers and scored at the decision threshold that is best for the job's selection metric (chosen on
/// these same sections). Lower is better for the errors, higher for the rest; object scores only for instance data.
/// </summary>
[GenerateSerializer, Immutable, Alias("UNetCluster.ValidationResult")]
public sealed record ValidationResult
{
    /// <summary>Steps applied to the model that was validated.</summary>
    [Id(0)] public long Step { get; init; }

    [Id(1)] public DateTimeOffset At { get; init; }

    /// <summary>The selection metric (<c>--select-by</c>): pixel-error, rand-error, dice, iou or object-f1.</summary>
    [Id(2)] public required string Metric { get; init; }

    /// <summary>The selection metric's value at <see cref="Threshold"/>.</summary>
    [Id(3)] public double Value { get; init; }

    /// <summary>Foreground probability above which a pixel is foreground, calibrated for <see cref="Metric"/>.</summary>
    [Id(4)] public double Threshold { get; init; }

    [Id(5)] public double PixelError { get; init; }

    [Id(6)] public double RandError { get; init; }

    [Id(7)] public double Dice { get; init; }

    [Id(8)] public double IoU { get; init; }

    /// <summary>Object F1 at IoU 0.5 (instance data only).</summary>
    [Id(9)] public double? ObjectF1 { get; init; }

    /// <summary>Object F1 averaged over IoU 0.5, 0.55, ..., 0.95 (instance data only).</summary>
    [Id(10)] public double? ObjectMeanF1 { get; init; }

    /// <summary>Sections scored.</summary>
    [Id(11)] public int Sections { get; init; }

    /// <summary>Seconds the validation held training (predicting and scoring on the workers, in parallel).</summary>
    [Id(12)] public double Seconds { get; init; }

    /// <summary>
    /// True when this validation's checkpoint became the job's best: its value is the highest so far, or within one
    /// standard error of the highest so far (<see cref="SelectionMargin"/>; the later checkpoint is then preferred, see
    /// <see cref="JobStatus.BestValidation"/>).
    /// </summary>
    [Id(13)] public bool Improved { get; init; }

    /// <summary>
    /// Objects of fewer pixels were left out of the object scores, calibrated for <see cref="Metric"/> with
    /// <see cref="Threshold"/> (instance data; 0 keeps every object); prediction leaves them out of its object labels.
    /// </summary>
    [Id(14)] public int MinObjectPixels { get; init; }

    /// <summary>
    /// The standard error of <see cref="Value"/>, the mean over the sections: their values' standard deviation divided by
    /// the square root of <see cref="Sections"/>; 0 with a single section.
    /// </summary>
    [Id(15)] public double StandardError { get; init; }

    /// <summary>The sections' ids, in the order of <see cref="SectionValues"/>.</summary>
    [Id(16)] public string[]? SectionIds { get; init; }

    /// <summary>The selection metric's value on each section at <see cref="Threshold"/>; <see cref="Value"/> is their mean.</summary>
    [Id(17)] public double[]? SectionValues { get; init; }

    /// <summary>
    /// When this validation did not set the highest value: the standard error of its difference from the highest, paired
    /// over the sections both scored (else the highest's <see cref="StandardError"/>); it took the best mark if it fell
    /// short by no more than this. Null when it set the highest itself.
    /// </summary>
    [Id(18)] public double? SelectionMargin { get; init; }

    /// <summary>
    /// For a border-class model validated against instance masks: the share of the pixels where two true objects touch
    /// that the model predicts as border, over all sections together (0..1); null without such pixels. Near 0, the border
    /// class has not been learned and touching objects come out merged.
    /// </summary>
    [Id(19)] public double? ContactsMarked { get; init; }

    /// <summary>The contact pixels <see cref="ContactsMarked"/> is a share of.</summary>
    [Id(20)] public long? ContactPixels { get; init; }
}
