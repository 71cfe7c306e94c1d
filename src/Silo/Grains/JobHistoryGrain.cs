using UNetCluster.Contracts.Grains;
using UNetCluster.Contracts.Jobs;

namespace UNetCluster.Silo.Grains;

/// <summary>
/// A job's recent committed steps and its checkpoints, in memory. When full, every second point of the older half
/// is dropped, so a long job keeps its whole curve at a coarser grain and its latest steps in full.
/// </summary>
public sealed class JobHistoryGrain : Grain, IJobHistoryGrain
{
    private readonly List<StepPoint> _steps = [];
    private readonly List<CheckpointPoint> _checkpoints = [];
    private readonly List<ValidationResult> _validations = [];
    private long _revision;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        DelayDeactivation(TimeSpan.FromDays(1));
        return base.OnActivateAsync(cancellationToken);
    }

    public Task AppendStepAsync(StepPoint point)
    {
        ArgumentNullException.ThrowIfNull(point);
        var from = _steps.FindIndex(p => p.Step >= point.Step);
        if (from >= 0)
        {
            _steps.RemoveRange(from, _steps.Count - from);   // the job went back to a checkpoint
        }

        if (_steps.Count >= JobHistory.MaxPoints)
        {
            var half = _steps.Count / 2;
            for (var i = half - 1; i > 0; i -= 2)
            {
                _steps.RemoveAt(i);
            }
        }

        _steps.Add(point);
        _revision++;
        return Task.CompletedTask;
    }

    public Task AppendCheckpointAsync(CheckpointPoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        _checkpoints.RemoveAll(c => c.Step == checkpoint.Step);
        _checkpoints.Add(checkpoint);
        _revision++;
        return Task.CompletedTask;
    }

    public Task AppendValidationAsync(ValidationResult validation)
    {
        ArgumentNullException.ThrowIfNull(validation);
        _validations.RemoveAll(v => v.Step >= validation.Step);   // the job went back to a checkpoint
        _validations.Add(validation);
        if (_validations.Count > JobHistory.MaxPoints)
        {
            _validations.RemoveAt(0);
        }

        _revision++;
        return Task.CompletedTask;
    }

    public Task<JobHistory> GetAsync(long afterStep) => Task.FromResult(
        new JobHistory(this.GetPrimaryKeyString(), _steps.Where(p => p.Step > afterStep).ToList(), _checkpoints.ToList(), _revision)
        {
            Validations = [.. _validations],
        });
}
