using UNetCluster.Model.Metrics;

namespace UNetCluster.Model.Training;

/// <summary>
/// How a run validates its model while it trains and keeps the best one: the held-out sections are predicted and scored
/// every <see cref="Every"/> steps (the checkpoint interval when null), also after <see cref="Minutes"/> minutes since
/// the last validation when set, and at the run's last step. The checkpoint of the best validation by
/// <see cref="SelectBy"/> is the run's best, with the decision threshold calibrated for that metric; after
/// <see cref="Patience"/> validations in a row without improvement the run stops early.
/// </summary>
/// <param name="SelectBy">Null: object F1 for instance masks, pixel error otherwise.</param>
public sealed record ValidationOptions(int? Every = null, double? Minutes = null, ValidationMetric? SelectBy = null, int? Patience = null)
{
    /// <summary>The steps between validations for a run that checkpoints every <paramref name="checkpointEvery"/> steps.</summary>
    public int StepsBetween(int checkpointEvery) => Every ?? checkpointEvery;

    /// <summary>The selection metric for data with (or without) instance truth.</summary>
    public ValidationMetric MetricFor(bool instances) => SelectBy ?? (instances ? ValidationMetric.ObjectF1 : ValidationMetric.PixelError);

    /// <summary>Checks every value, throwing an <see cref="ArgumentException"/> that names the option and what is accepted.</summary>
    public ValidationOptions Validate()
    {
        if (Every is { } every && every is < 1 or > 10_000_000)
        {
            throw new ArgumentException($"--validate-every {every} is invalid: expected an integer from 1 to 10000000 (steps).", "--validate-every");
        }

        if (Minutes is { } minutes && !(minutes > 0 && minutes <= 60 * 24 * 30))
        {
            throw new ArgumentException(FormattableString.Invariant($"--validate-minutes {minutes} is invalid: expected a number of minutes in (0, 43200]."), "--validate-minutes");
        }

        if (SelectBy is { } metric && !Enum.IsDefined(metric))
        {
            throw new ArgumentException($"--select-by {metric} is invalid: expected {string.Join(", ", ValidationMetrics.Names)}.", "--select-by");
        }

        if (Patience is { } patience && patience is < 1 or > 100_000)
        {
            throw new ArgumentException($"--patience {patience} is invalid: expected an integer from 1 to 100000 (validations without improvement).", "--patience");
        }

        return this;
    }
}
