using Microsoft.Extensions.Logging;
using Orleans.Placement;
using UNetCluster.Contracts.Grains;
using UNetCluster.Contracts.Jobs;
using UNetCluster.Training.Jobs;

namespace UNetCluster.Silo.Grains;

/// <summary>
/// A job's recent committed steps, checkpoints and validations (<see cref="JobHistoryLog"/>), kept beside the job's
/// record in the cluster's storage by a <see cref="JobHistoryStore"/>: an activation reads what is stored, appends in
/// memory and writes behind once a second, so when its silo dies the next activation has all but the last second.
/// Placed on the silo of its first caller, which is the job's coordinator: its one-way appends stay local.
/// </summary>
[PreferLocalPlacement]
public sealed class JobHistoryGrain(JobStorage storage, ILogger<JobHistoryGrain> logger) : Grain, IJobHistoryGrain
{
    private static readonly TimeSpan FlushEvery = TimeSpan.FromSeconds(1);

    private JobHistoryStore? _history;   // the history as read at activation, with the appends since

    private JobHistoryStore History => _history ?? throw new InvalidOperationException("The history grain is not activated.");

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _history = await JobHistoryStore.OpenAsync(storage.Blobs, this.GetPrimaryKeyString(), logger, cancellationToken);
        this.RegisterGrainTimer(ct => History.FlushAsync(ct), new GrainTimerCreationOptions(FlushEvery, FlushEvery) { Interleave = true });
        DelayDeactivation(TimeSpan.FromDays(1));
        await base.OnActivateAsync(cancellationToken);
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_history is not null)
        {
            await _history.FlushAsync(cancellationToken);
        }

        await base.OnDeactivateAsync(reason, cancellationToken);
    }

    public Task AppendStepAsync(StepPoint point)
    {
        ArgumentNullException.ThrowIfNull(point);
        History.Append(new JobHistoryEntry(Step: point));
        return Task.CompletedTask;
    }

    public Task AppendCheckpointAsync(CheckpointPoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        History.Append(new JobHistoryEntry(Checkpoint: checkpoint));
        return Task.CompletedTask;
    }

    public Task AppendValidationAsync(ValidationResult validation)
    {
        ArgumentNullException.ThrowIfNull(validation);
        History.Append(new JobHistoryEntry(Validation: validation));
        return Task.CompletedTask;
    }

    public Task<JobHistory> GetAsync(long afterStep) => Task.FromResult(History.Get(afterStep));
}
