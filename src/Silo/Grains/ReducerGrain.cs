using System.Diagnostics;
using Microsoft.Extensions.Logging;
using UNetCluster.Contracts.Grains;
using UNetCluster.Contracts.Messages;
using UNetCluster.Model.Distributed;
using UNetCluster.Silo.Placement;
using UNetCluster.Silo.Telemetry;
using UNetCluster.Training.Jobs;
using UNetCluster.Training.Transport;
using UNetCluster.Training.Worker;

namespace UNetCluster.Silo.Grains;

/// <summary>
/// One shard of a job's parameters and optimizer state (see <see cref="ShardReducer"/>), on the silo its key names.
/// Applies a step once: when every worker of the open attempt has sent its whole gradient for the shard. The silo's data
/// plane serves it, and only it, while it holds state (from set-up to release or deactivation).
/// </summary>
[SiloBoundPlacement]
public sealed partial class ReducerGrain(TorchThread torch, DataPlaneServer dataPlane, ILogger<ReducerGrain> logger) : Grain, IReducerGrain, IDisposable
{
    private ShardReducer? _reducer;
    private long _version;
    private long _openStep = -1;
    private int _openAttempt = -1;
    private int _workers;
    private double _learningRate;
    private string _jobId = string.Empty;
    private ActivityContext _stepParent;
    private DateTimeOffset? _firstBucket;
    private (long Version, Dictionary<string, byte[]> Vectors)? _snapshot;
    private readonly Dictionary<(long Offset, WireFormat Format), (long Version, byte[] Values)> _parameterBuckets = [];

    public async Task SetupAsync(ReducerSetup setup)
    {
        ArgumentNullException.ThrowIfNull(setup);
        var options = JobOptions.Build(setup.Spec);
        var range = new ShardRange(setup.Index, setup.Offset, setup.Length);
        var old = _reducer;
        _reducer = null;
        dataPlane.CloseReducer(this.GetPrimaryKeyString());
        _reducer = await torch.RunAsync(() =>
        {
            old?.Dispose();
            var reducer = new ShardReducer(range, new float[setup.Length], options.Optimizer);
            reducer.SetStepCount(setup.OptimizerSteps);
            return reducer;
        });
        _version = setup.Version;
        _snapshot = null;
        _parameterBuckets.Clear();
        _jobId = setup.JobId;
        _openStep = -1;
        _openAttempt = -1;
        dataPlane.OpenReducer(this.GetPrimaryKeyString(), range, JobOptions.BucketBytes(setup.Spec));
        this.DelayDeactivation(TimeSpan.FromDays(30));
    }

    public async Task LoadAsync(VectorBucket bucket)
    {
        ArgumentNullException.ThrowIfNull(bucket);
        var reducer = Require();
        if (bucket.Version != _version)
        {
            throw new InvalidOperationException($"Reducer {this.GetPrimaryKeyString()} is set up at step {_version}, not {bucket.Version}.");
        }

        await torch.RunAsync(() => reducer.Load(bucket.Name, bucket.Offset, bucket.Values));
        _parameterBuckets.Clear();
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
        (_stepParent, _firstBucket) = (Activity.Current?.Context ?? default, null);
        return Task.CompletedTask;
    }

    public async Task<ContributionOutcome> AddGradientAsync(GradientBucket bucket)
    {
        ArgumentNullException.ThrowIfNull(bucket);
        var reducer = Require();
        if (bucket.Step < _version)
        {
            return ContributionOutcome.AlreadyApplied;
        }

        if (bucket.Step != _openStep || bucket.Attempt != _openAttempt || bucket.WorkerIndex >= _workers)
        {
            return ContributionOutcome.Stale;
        }

        if (!reducer.AddBucket(bucket.WorkerIndex, bucket.Samples, bucket.Offset, bucket.Values, bfloat16: bucket.Format == WireFormat.Bf16))
        {
            LogNotFinite(this.GetPrimaryKeyString(), bucket.WorkerIndex, bucket.Step);
            return ContributionOutcome.NotFinite;
        }

        _firstBucket ??= DateTimeOffset.UtcNow;
        UNetTelemetry.RecordReducedBytes(_jobId, reducer.Range.Index, bucket.Values.Length);
        if (reducer.IsComplete(_workers))
        {
            var learningRate = _learningRate;
            var applyClock = Stopwatch.StartNew();
            await torch.RunAsync(() => reducer.Apply(learningRate));
            var applied = DateTimeOffset.UtcNow;
            var (sinceFirst, applySeconds) = (applied - _firstBucket.Value, applyClock.Elapsed.TotalSeconds);
            LogApplied(bucket.Step, applied, sinceFirst.TotalSeconds, applySeconds);
            UNetTelemetry.RecordReduce(_jobId, reducer.Range.Index, bucket.Step, _stepParent, _firstBucket.Value, sinceFirst);
            _version++;
        }

        return ContributionOutcome.Accepted;
    }

    public async Task<bool> SnapshotAsync(long version, IReadOnlyList<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        var reducer = Require();
        if (version != _version)
        {
            return false;
        }

        // The previous copy's buffers are reused: its checkpoint was pulled before this one was asked for.
        var vectors = _snapshot?.Vectors ?? new Dictionary<string, byte[]>(StringComparer.Ordinal);
        _snapshot = null;
        var bytes = checked((int)reducer.Range.Length * sizeof(float));
        await torch.RunAsync(() =>
        {
            foreach (var name in names)
            {
                if (!vectors.TryGetValue(name, out var buffer) || buffer.Length != bytes)
                {
                    vectors[name] = buffer = GC.AllocateUninitializedArray<byte>(bytes);
                }

                reducer.CopyState(name, buffer);
            }
        });
        _snapshot = (version, vectors);
        return true;
    }

    public async Task<VectorBucket?> GetBucketAsync(string name, long version, long offset, int length, WireFormat format = WireFormat.Fp32)
    {
        var reducer = Require();
        if (!format.IsKnown() || (format != WireFormat.Fp32 && name != ShardReducer.ParametersName))
        {
            throw new ArgumentException($"Reducer {this.GetPrimaryKeyString()} serves the parameters as float32 or bf16 and optimizer state as float32; '{name}' was asked for as {format}.", nameof(format));
        }

        if (_snapshot is { } snapshot && snapshot.Version == version && snapshot.Vectors.TryGetValue(name, out var kept))
        {
            var start = checked((int)((offset - reducer.Range.Offset) * sizeof(float)));
            return new VectorBucket(name, version, offset, kept.AsSpan(start, checked(length * sizeof(float))).ToArray());
        }

        if (version > _version)
        {
            return null;
        }

        if (version < _version)
        {
            throw new InvalidOperationException($"Reducer {this.GetPrimaryKeyString()} has moved on to step {_version}; step {version} is gone.");
        }

        if (name == ShardReducer.ParametersName)
        {
            return new VectorBucket(name, version, offset, ParameterBucket(reducer, offset, length, format), format);
        }

        // Optimizer state is read from its tensor, on the torch thread.
        return new VectorBucket(name, version, offset, await torch.RunAsync(() => reducer.Read(name, offset, length)));
    }

    /// <summary>
    /// The parameter bucket at the current version in <paramref name="format"/>, in an array kept per bucket and format
    /// and refilled once per version, so pulls allocate nothing. Safe because no one reads it after the next step is
    /// applied: that needs every worker's next gradient, which each sends only once its pull has completed.
    /// </summary>
    private byte[] ParameterBucket(ShardReducer reducer, long offset, int length, WireFormat format)
    {
        var bytes = checked(length * format.BytesPerValue());
        if (!_parameterBuckets.TryGetValue((offset, format), out var bucket) || bucket.Values.Length != bytes)
        {
            bucket = (-1, GC.AllocateUninitializedArray<byte>(bytes));
        }

        if (bucket.Version != _version)
        {
            reducer.CopyParameters(offset, bucket.Values, bfloat16: format == WireFormat.Bf16);
            bucket = (_version, bucket.Values);
        }

        _parameterBuckets[(offset, format)] = bucket;
        return bucket.Values;
    }

    public Task<ReducerState> GetStateAsync() => Task.FromResult(
        _reducer is null ? new ReducerState(false, -1, 0, 0) : new ReducerState(true, _version, _reducer.Range.Offset, _reducer.Range.Length));

    public Task<string?> GetDataEndpointAsync() => Task.FromResult(dataPlane.Endpoint);

    public async Task ReleaseAsync()
    {
        await DisposeReducerAsync();
        DeactivateOnIdle();
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        await DisposeReducerAsync();
        await base.OnDeactivateAsync(reason, cancellationToken);
    }

    public void Dispose()
    {
        _reducer?.Dispose();
        _reducer = null;
    }

    private Task DisposeReducerAsync()
    {
        dataPlane.CloseReducer(this.GetPrimaryKeyString());
        var reducer = _reducer;
        _reducer = null;
        return reducer is null ? Task.CompletedTask : torch.RunAsync(reducer.Dispose);
    }

    private ShardReducer Require() =>
        _reducer ?? throw new InvalidOperationException($"Reducer {this.GetPrimaryKeyString()} holds no state: it was never set up or its silo restarted.");

    [LoggerMessage(Level = LogLevel.Debug, Message = "Reducer applied step {Step} at {AppliedAt:HH:mm:ss.fff}, {SinceFirstSeconds:F3} s after its first bucket came; waiting for the torch thread and the optimizer took {ApplySeconds:F3} s")]
    private partial void LogApplied(long step, DateTimeOffset appliedAt, double sinceFirstSeconds, double applySeconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reducer {Reducer} refused worker {Worker}'s gradient for step {Step}: NaN or infinity")]
    private partial void LogNotFinite(string reducer, int worker, long step);
}
