using UNetCluster.Contracts.Jobs;

namespace UNetCluster.Training.Jobs;

/// <summary>One change to a job's history, as its coordinator sends it: exactly one of a step, a checkpoint or a validation.</summary>
public sealed record JobHistoryEntry(StepPoint? Step = null, CheckpointPoint? Checkpoint = null, ValidationResult? Validation = null);

/// <summary>
/// A job's bounded history in memory: its recent committed steps, its checkpoints and its validations. When full,
/// every second point of the older half of the steps is dropped, so a long job keeps its whole curve at a coarser
/// grain and its latest steps in full. Applying the same entries in the same order gives the same history, which is
/// what lets <see cref="JobHistoryStore"/> keep a snapshot and the entries after it.
/// </summary>
public sealed class JobHistoryLog
{
    private readonly List<StepPoint> _steps = [];
    private readonly List<CheckpointPoint> _checkpoints = [];
    private readonly List<ValidationResult> _validations = [];

    public JobHistoryLog(string jobId)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        JobId = jobId;
    }

    /// <summary>A log holding what <paramref name="history"/> holds, at its revision.</summary>
    public JobHistoryLog(JobHistory history)
        : this(history?.JobId ?? throw new ArgumentNullException(nameof(history)))
    {
        _steps.AddRange(history.Steps);
        _checkpoints.AddRange(history.Checkpoints);
        _validations.AddRange(history.Validations);
        Revision = history.Revision;
    }

    public string JobId { get; }

    /// <summary>Grows by one with every entry applied.</summary>
    public long Revision { get; private set; }

    public void Apply(JobHistoryEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (entry.Step is { } step)
        {
            AddStep(step);
        }
        else if (entry.Checkpoint is { } checkpoint)
        {
            _checkpoints.RemoveAll(c => c.Step == checkpoint.Step);
            _checkpoints.Add(checkpoint);
        }
        else if (entry.Validation is { } validation)
        {
            _validations.RemoveAll(v => v.Step >= validation.Step);   // the job went back to a checkpoint
            _validations.Add(validation);
            if (_validations.Count > JobHistory.MaxPoints)
            {
                _validations.RemoveAt(0);
            }
        }
        else
        {
            throw new ArgumentException("A history entry holds a step, a checkpoint or a validation; this one holds none.", nameof(entry));
        }

        Revision++;
    }

    /// <summary>The steps after <paramref name="afterStep"/> (all with -1), every checkpoint and every validation.</summary>
    public JobHistory Snapshot(long afterStep = -1) =>
        new(JobId, _steps.Where(p => p.Step > afterStep).ToList(), _checkpoints.ToList(), Revision) { Validations = [.. _validations] };

    private void AddStep(StepPoint point)
    {
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
    }
}
