using Microsoft.Extensions.Logging;
using UNetCluster.Contracts.Grains;
using UNetCluster.Contracts.Messages;
using UNetCluster.Model.Distributed;
using UNetCluster.Silo.Jobs;
using UNetCluster.Silo.Placement;

namespace UNetCluster.Silo.Grains;

/// <summary>
/// One shard of a job's parameters and optimizer state (see <see cref="ShardReducer"/>), on the silo its key names.
/// Applies a step once: when every worker of the open attempt has sent its whole gradient for the shard.
/// </summary>
[SiloBoundPlacement]
public sealed partial class ReducerGrain(ILogger<ReducerGrain> logger) : Grain, IReducerGrain, IDisposable
{
    private ShardReducer? _reducer;
    private long _version;
    private long _openStep = -1;
    private int _openAttempt = -1;
    private int _workers;
    private double _learningRate;

    public Task SetupAsync(ReducerSetup setup)
    {
        ArgumentNullException.ThrowIfNull(setup);
        var options = JobOptions.Build(setup.Spec);
        _reducer?.Dispose();
        _reducer = new ShardReducer(new ShardRange(setup.Index, setup.Offset, setup.Length), new float[setup.Length], options.Optimizer);
        _reducer.SetStepCount(setup.OptimizerSteps);
        _version = setup.Version;
        _openStep = -1;
        _openAttempt = -1;
        this.DelayDeactivation(TimeSpan.FromDays(30));
        return Task.CompletedTask;
    }

    public Task LoadAsync(VectorBucket bucket)
    {
        ArgumentNullException.ThrowIfNull(bucket);
        var reducer = Require();
        if (bucket.Version != _version)
        {
            throw new InvalidOperationException($"Reducer {this.GetPrimaryKeyString()} is set up at step {_version}, not {bucket.Version}.");
        }

        reducer.Load(bucket.Name, bucket.Offset, bucket.Values);
        return Task.CompletedTask;
    }

    public Task OpenStepAsync(long stepIndex, int attempt, int workers, double learningRate)
    {
        var reducer = Require();
        if (stepIndex < _version)
        {
            return Task.CompletedTask;   // applied already: a recomputed step leaves this shard as it is
        }

        if (stepIndex > _version)
        {
            throw new InvalidOperationException($"Reducer {this.GetPrimaryKeyString()} is at step {_version}; it cannot open step {stepIndex}.");
        }

        if (stepIndex != _openStep || attempt != _openAttempt)
        {
            reducer.Discard();
        }

        (_openStep, _openAttempt, _workers, _learningRate) = (stepIndex, attempt, workers, learningRate);
        return Task.CompletedTask;
    }

    public Task<ContributionOutcome> AddGradientAsync(GradientBucket bucket)
    {
        ArgumentNullException.ThrowIfNull(bucket);
        var reducer = Require();
        if (bucket.Step < _version)
        {
            return Task.FromResult(ContributionOutcome.AlreadyApplied);
        }

        if (bucket.Step != _openStep || bucket.Attempt != _openAttempt || bucket.WorkerIndex >= _workers)
        {
            return Task.FromResult(ContributionOutcome.Stale);
        }

        if (!reducer.AddBucket(bucket.WorkerIndex, bucket.Samples, bucket.Offset, bucket.Values))
        {
            LogNotFinite(this.GetPrimaryKeyString(), bucket.WorkerIndex, bucket.Step);
            return Task.FromResult(ContributionOutcome.NotFinite);
        }

        if (reducer.IsComplete(_workers))
        {
            reducer.Apply(_learningRate);
            _version++;
        }

        return Task.FromResult(ContributionOutcome.Accepted);
    }

    public Task<VectorBucket?> GetBucketAsync(string name, long version, long offset, int length)
    {
        var reducer = Require();
        if (version > _version)
        {
            return Task.FromResult<VectorBucket?>(null);
        }

        if (version < _version)
        {
            throw new InvalidOperationException($"Reducer {this.GetPrimaryKeyString()} has moved on to step {_version}; step {version} is gone.");
        }

        return Task.FromResult<VectorBucket?>(new VectorBucket(name, version, offset, reducer.Read(name, offset, length)));
    }

    public Task<ReducerState> GetStateAsync() => Task.FromResult(
        _reducer is null ? new ReducerState(false, -1, 0, 0) : new ReducerState(true, _version, _reducer.Range.Offset, _reducer.Range.Length));

    public Task ReleaseAsync()
    {
        _reducer?.Dispose();
        _reducer = null;
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _reducer?.Dispose();
        _reducer = null;
        return base.OnDeactivateAsync(reason, cancellationToken);
    }

    public void Dispose()
    {
        _reducer?.Dispose();
        _reducer = null;
    }

    private ShardReducer Require() =>
        _reducer ?? throw new InvalidOperationException($"Reducer {this.GetPrimaryKeyString()} holds no state: it was never set up or its silo restarted.");

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reducer {Reducer} refused worker {Worker}'s gradient for step {Step}: NaN or infinity")]
    private partial void LogNotFinite(string reducer, int worker, long step);
}
