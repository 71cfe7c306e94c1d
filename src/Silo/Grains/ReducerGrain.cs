using System.Diagnostics;
using Microsoft.Extensions.Logging;
using UNetCluster.Contracts.Grains;
using UNetCluster.Contracts.Messages;
using UNetCluster.Model.Distributed;
using UNetCluster.Model.Optimization;
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
public sealed partial class ReducerGrain(TorchThread torch, DataPlaneServer dataPlane, IBucketTransport transport, ILogger<ReducerGrain> logger)
    : Grain, IReducerGrain, IDisposable
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
    private readonly Dictionary<(long Offset, WireFormat Format), (long Version, byte[] Values)> _previousBuckets = [];
    private WireFormat _wire;                                 // the format the job's workers pull the parameters in
    private OptimizerKind _optimizerKind;
    private int _bucketBytes;
    private string? _copy;                                   // the reducer on another silo that applies every step too
    private List<(long Offset, byte[] Values)>? _meanBuckets; // the applied step's mean gradient, as sent to the copy

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
        ClearParameterBuckets();
        _jobId = setup.JobId;
        _optimizerKind = options.Optimizer.Kind;
        _wire = Replica.WireOf(options.Precision);
        _bucketBytes = JobOptions.BucketBytes(setup.Spec);
        _copy = null;
        _meanBuckets = null;
        _openStep = -1;
        _openAttempt = -1;
        dataPlane.OpenReducer(this.GetPrimaryKeyString(), range, _bucketBytes);
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
        ClearParameterBuckets();
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
            var copy = _copy;
            var mean = copy is null ? null : MeanBuckets(reducer);
            KeepParameters(reducer);
            await torch.RunAsync(() =>
            {
                reducer.Apply(learningRate);
                foreach (var (offset, values) in mean ?? [])
                {
                    reducer.CopyLastMean(offset, values);
                }
            });

            // The step's parameters are served (the version moves on) only once the copy has applied it too.
            if (copy is not null && mean is not null)
            {
                await ForwardAsync(copy, mean, bucket.Step, _openAttempt, learningRate);
            }

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

        if (version == _version - 1 && name == ShardReducer.ParametersName && PreviousParameterBucket(offset, format) is { } previous)
        {
            return new VectorBucket(name, version, offset, previous, format);
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
    /// applied: that needs every worker's next gradient, which each sends only once its pull has completed. The array
    /// of the version before is kept too (see <see cref="KeepParameters"/>), and its array is the one refilled.
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
            var spare = bucket;
            if (bucket.Version == _version - 1)
            {
                // The version before stays servable; the array it replaces (two versions old) is refilled instead.
                _previousBuckets.TryGetValue((offset, format), out spare);
                _previousBuckets[(offset, format)] = bucket;
            }

            var values = spare.Values is { } array && array.Length == bytes ? array : GC.AllocateUninitializedArray<byte>(bytes);
            reducer.CopyParameters(offset, values, bfloat16: format == WireFormat.Bf16);
            bucket = (_version, values);
        }

        _parameterBuckets[(offset, format)] = bucket;
        return bucket.Values;
    }

    /// <summary>
    /// Before a step is applied: fills every bucket of the parameters in the workers' format at the step's version (a
    /// no-op when the workers pulled them, as they do every step), so that a worker which must start that step afresh
    /// after the reducer has applied it (one that joined, or whose replica was dropped, while the coordinator
    /// recomputes a step that some reducers applied before a peer was lost) can still pull it.
    /// </summary>
    private void KeepParameters(ShardReducer reducer)
    {
        foreach (var bucket in ParameterShards.Buckets(reducer.Range, _bucketBytes))
        {
            ParameterBucket(reducer, bucket.Offset, checked((int)bucket.Length), _wire);
        }
    }

    /// <summary>The parameter bucket one version before the current one, where it is kept (see <see cref="ParameterBucket"/>).</summary>
    private byte[]? PreviousParameterBucket(long offset, WireFormat format)
    {
        var key = (offset, format);
        return _parameterBuckets.TryGetValue(key, out var bucket) && bucket.Version == _version - 1 ? bucket.Values
            : _previousBuckets.TryGetValue(key, out bucket) && bucket.Version == _version - 1 ? bucket.Values
            : null;
    }

    private void ClearParameterBuckets()
    {
        _parameterBuckets.Clear();
        _previousBuckets.Clear();
    }

    public Task<ReducerState> GetStateAsync() => Task.FromResult(
        _reducer is null
            ? new ReducerState(false, -1, 0, 0)
            : new ReducerState(true, _version, _reducer.Range.Offset, _reducer.Range.Length, _reducer.StepCount, _copy));

    public async Task CopyFromAsync(ReducerSetup setup, string source)
    {
        ArgumentNullException.ThrowIfNull(setup);
        var from = GrainFactory.GetGrain<IReducerGrain>(source);
        var state = await from.GetStateAsync();
        if (!state.Ready || state.Version != setup.Version || state.Offset != setup.Offset || state.Length != setup.Length)
        {
            throw new InvalidOperationException(
                $"Reducer {this.GetPrimaryKeyString()} cannot copy {source}: it holds step {state.Version} of [{state.Offset}, +{state.Length}), not step {setup.Version} of [{setup.Offset}, +{setup.Length}).");
        }

        await SetupAsync(setup with { OptimizerSteps = state.OptimizerSteps });
        var reducer = Require();
        foreach (var name in FlatOptimizer.StateNames(_optimizerKind).Prepend(ShardReducer.ParametersName))
        {
            foreach (var bucket in ParameterShards.Buckets(reducer.Range, _bucketBytes))
            {
                var values = await from.GetBucketAsync(name, setup.Version, bucket.Offset, (int)bucket.Length)
                    ?? throw new InvalidOperationException($"Reducer {source} no longer holds step {setup.Version}.");
                await torch.RunAsync(() => reducer.Load(name, values.Offset, values.Values));
            }
        }

        ClearParameterBuckets();
        LogCopied(source, setup.Version, setup.Length);
    }

    public Task SetCopyAsync(string? copy)
    {
        Require();
        _copy = copy;
        _meanBuckets = null;
        return Task.CompletedTask;
    }

    /// <summary>The arrays the applied step's mean is copied into for the copy, one per bucket, kept across steps.</summary>
    private List<(long Offset, byte[] Values)> MeanBuckets(ShardReducer reducer) =>
        _meanBuckets ??= [.. ParameterShards.Buckets(reducer.Range, _bucketBytes)
            .Select(b => (b.Offset, GC.AllocateUninitializedArray<byte>(checked((int)b.Length * sizeof(float)))))];

    /// <summary>
    /// Hands the applied step's mean to the copy as worker 0's whole contribution of a one-worker step (over the data
    /// plane where the copy's silo serves one). A copy that cannot take it is dropped: the step goes on, this shard
    /// without a copy until the coordinator sets a new one up at the next step boundary.
    /// </summary>
    private async Task ForwardAsync(string copy, List<(long Offset, byte[] Values)> mean, long step, int attempt, double learningRate)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            await GrainFactory.GetGrain<IReducerGrain>(copy).OpenStepAsync(step, attempt, 1, learningRate);
            var outcomes = await Task.WhenAll(mean.Select(m =>
                transport.SendGradientAsync(copy, new GradientBucket(step, attempt, 0, 1, m.Offset, m.Values, WireFormat.Fp32))));
            var refused = outcomes.Where(o => o is not (ContributionOutcome.Accepted or ContributionOutcome.AlreadyApplied)).ToList();
            if (refused.Count > 0)
            {
                throw new InvalidOperationException($"the copy answered {refused[0]}");
            }

            UNetTelemetry.RecordCopyBytes(_jobId, mean.Sum(m => (long)m.Values.Length), clock.Elapsed);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogCopyLost(copy, step, e);
            _copy = null;
        }
    }

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

    [LoggerMessage(Level = LogLevel.Information, Message = "Reducer set up as a copy of {Source} at step {Version} ({Length} values)")]
    private partial void LogCopied(string source, long version, long length);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reducer could not hand step {Step} to its copy {Copy}; it goes on without one until the coordinator sets one up")]
    private partial void LogCopyLost(string copy, long step, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reducer {Reducer} refused worker {Worker}'s gradient for step {Step}: NaN or infinity")]
    private partial void LogNotFinite(string reducer, int worker, long step);
}
