using UNetCluster.Client.Display;
using UNetCluster.Contracts.Jobs;
using UNetCluster.Model.Training;

namespace UNetCluster.Client.Cluster;

/// <summary>Follows a job's status until it finishes, driving the progress display.</summary>
internal static class JobWatcher
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Polls the job until it is finished. When <paramref name="cancellationToken"/> fires: with
    /// <paramref name="cancelJobOnInterrupt"/> the job is asked to stop (and is still followed until it has), otherwise
    /// watching stops and the last status is returned (the job goes on).
    /// </summary>
    public static async Task<JobStatus> WatchAsync(
        IJobClient jobs, string jobId, TrainingProgressDisplay display, bool cancelJobOnInterrupt, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        ArgumentNullException.ThrowIfNull(display);
        var first = await jobs.GetStatusAsync(jobId, CancellationToken.None).ConfigureAwait(false);
        return await display.RunAsync(first.Steps, first.Step, async progress =>
        {
            var cancelSent = false;
            var status = first;
            long reported = -1;
            var validated = first.Validation?.Step ?? -1;
            while (!status.IsFinished)
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    if (!cancelJobOnInterrupt)
                    {
                        return status;
                    }

                    if (!cancelSent)
                    {
                        await jobs.CancelAsync(jobId, CancellationToken.None).ConfigureAwait(false);
                        cancelSent = true;
                    }
                }

                await Task.Delay(Poll, CancellationToken.None).ConfigureAwait(false);
                status = await jobs.GetStatusAsync(jobId, CancellationToken.None).ConfigureAwait(false);
                if (status.Step != reported && status.Step > 0)
                {
                    reported = status.Step;
                    progress.Report(ToProgress(status));
                }

                if (status.Validation is { } validation && validation.Step != validated)
                {
                    validated = validation.Step;
                    display.ShowValidation(Describe(validation, status.BestValidation, status.HighestValidation));
                }
            }

            return status;
        }).ConfigureAwait(false);
    }

    /// <summary>
    /// Below this share of the validation's contact pixels marked as border, the border class counts as not learned
    /// (<see cref="BorderNotLearned"/>). On held-out nuclei, runs that learned it mark 10-34 % of the contacts and merge
    /// fewer nuclei; runs that did not mark none or almost none (bench/README.md, issue 16).
    /// </summary>
    public const double LearnedContactShare = 0.01;

    /// <summary>
    /// A warning when <paramref name="best"/> (the checkpoint prediction uses) marks almost none of the validation's
    /// contacts as border: its touching objects will mostly come out merged. Null when it marks them or has no contacts.
    /// </summary>
    public static string? BorderNotLearned(ValidationResult? best) =>
        best is { ContactsMarked: { } share, ContactPixels: { } pixels } && share < LearnedContactShare
            ? FormattableString.Invariant(
                $"warning: the checkpoint of step {best.Step} predicts {share:P1} of the {pixels} validation pixels where two objects touch as border: ") +
                "the border class was not learned, so touching objects will mostly come out merged. Training again with another --seed, for longer " +
                "(--steps, --minutes), at twice the rate with a cooldown (--lr 4e-3 --schedule cooldown) or with the border weighted 30 " +
                "(--class-weights 1,1,30, as the nuclei preset does) may learn it (bench/README.md)."
            : null;

    /// <summary>"the top value, 0.8694 at step 1000": how every status line names the highest validation.</summary>
    public static string TopValue(ValidationResult highest)
    {
        ArgumentNullException.ThrowIfNull(highest);
        return FormattableString.Invariant($"the top value, {highest.Value:0.####} at step {highest.Step}");
    }

    /// <summary>
    /// Why a later validation holds the best mark: "within one standard error (0.0123) of the top value, 0.8627 at
    /// step 2000", or "equal to the top value, ..." when it ties the top (its standard error is then 0).
    /// </summary>
    public static string NearTop(double value, double? margin, ValidationResult highest)
    {
        ArgumentNullException.ThrowIfNull(highest);
        return value == highest.Value
            ? $"equal to {TopValue(highest)}"
            : FormattableString.Invariant($"within one standard error ({margin:0.####}) of {TopValue(highest)}");
    }

    /// <summary>
    /// "validation at step 200: pixel-error 0.1123 at threshold 0.35 (best so far)" and the other scores; a validation
    /// that became the best within one standard error of the <paramref name="highest"/> says so.
    /// </summary>
    public static string Describe(ValidationResult validation, ValidationResult? best, ValidationResult? highest = null)
    {
        ArgumentNullException.ThrowIfNull(validation);
        var objects = (validation.ObjectF1 is { } f1 ? FormattableString.Invariant($", object F1 {f1:F3}") : string.Empty) +
            (validation.ContactsMarked is { } marked ? FormattableString.Invariant($", contacts marked as border {marked:P1}") : string.Empty);
        // The top value is worth naming when it is neither this validation nor the best.
        var top = highest is not null && highest.Step != validation.Step ? TopValue(highest) : null;
        string verdict;
        if (validation.Improved || best is null)
        {
            verdict = top is null ? "best so far" : "best: " + NearTop(validation.Value, validation.SelectionMargin, highest!);
        }
        else
        {
            verdict = FormattableString.Invariant($"best {best.Value:0.####} at step {best.Step}") + (top is not null && highest!.Step != best.Step ? $"; {top}" : string.Empty);
        }
        return FormattableString.Invariant(
            $"validation at step {validation.Step}: {validation.Metric} {validation.Value:0.####} at threshold {validation.Threshold:0.00}") +
            (validation.MinObjectPixels > 1 ? FormattableString.Invariant($", objects of {validation.MinObjectPixels}+ px") : string.Empty) +
            FormattableString.Invariant($" ({verdict}); ") +
            FormattableString.Invariant($"pixel error {validation.PixelError:F4}, Rand error {validation.RandError:F4}, Dice {validation.Dice:F4}{objects}, {validation.Seconds:0.0} s");
    }

    public static TrainingProgress ToProgress(JobStatus status)
    {
        ArgumentNullException.ThrowIfNull(status);
        var rate = status.TilesPerSecond;
        var batch = status.Step > 0 && status.Elapsed > TimeSpan.Zero ? rate * status.Elapsed.TotalSeconds / Math.Max(status.Step, 1) : 0;
        var remaining = rate > 0 && batch > 0 ? TimeSpan.FromSeconds((status.Steps - status.Step) * batch / rate) : TimeSpan.Zero;
        return new TrainingProgress(status.Step, status.Steps, status.Loss ?? double.NaN, status.SmoothedLoss ?? double.NaN, rate, status.Elapsed, remaining);
    }
}
