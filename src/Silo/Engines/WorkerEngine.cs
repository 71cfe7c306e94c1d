using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using UNetCluster.Contracts.Grains;
using UNetCluster.Contracts.Jobs;
using UNetCluster.Contracts.Messages;
using UNetCluster.Model.Checkpoints;
using UNetCluster.Model.Training;
using UNetCluster.Model.Distributed;
using UNetCluster.Model.Optimization;
using UNetCluster.Silo.DataPlane;
using UNetCluster.Silo.Hosting;
using UNetCluster.Silo.Jobs;
using UNetCluster.Silo.Placement;
using UNetCluster.Silo.Telemetry;
using static TorchSharp.torch;

namespace UNetCluster.Silo.Engines;

/// <summary>
/// The silo's training engine: owns the TorchSharp replica of each job this silo works on and runs, one at a time and
/// outside any grain turn, the work the worker grain hands it: a step (pull parameters if stale, forward and backward,
/// send the gradient's buckets to the reducers, pull the updated parameters, report), a restore (set the reducers up
/// from the latest checkpoint or the seed's weights) and a checkpoint. A step whose attempt is superseded (the
/// coordinator recomputes it) is abandoned at the next message.
/// </summary>
public sealed partial class WorkerEngine : BackgroundService
{
    private const int MaxInFlight = 8;

    private readonly Channel<Func<CancellationToken, Task>> _queue = Channel.CreateUnbounded<Func<CancellationToken, Task>>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<string, (long Step, int Attempt)> _latest = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _restores = new(StringComparer.Ordinal);   // restores asked for, by job
    private readonly Dictionary<string, Replica> _replicas = new(StringComparer.Ordinal);   // the engine's loop only
    private readonly Dictionary<string, JobUploads> _uploads = new(StringComparer.Ordinal);   // the engine's loop only
    private readonly IGrainFactory _grains;
    private readonly DataCatalog _catalog;
    private readonly JobStorage _storage;
    private readonly ILocalSiloDetails _silo;
    private readonly ILogger<WorkerEngine> _logger;
    private readonly TorchThread _torch;
    private readonly UNetSiloOptions _options;
    private readonly DataPlaneClient _dataPlane;

    public WorkerEngine(
        IGrainFactory grains, DataCatalog catalog, JobStorage storage, ILocalSiloDetails silo, TorchThread torch, DataPlaneClient dataPlane,
        IOptions<UNetSiloOptions> options, ILogger<WorkerEngine> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _grains = grains;
        _catalog = catalog;
        _storage = storage;
        _silo = silo;
        _logger = logger;
        _torch = torch;
        _dataPlane = dataPlane;
    }

    /// <summary>This silo's worker grain key.</summary>
    public string WorkerKey => SiloBoundPlacement.Key("worker", _silo.SiloAddress);

    /// <summary>Queues a step; a newer attempt of the job supersedes any older one still queued or running.</summary>
    public void EnqueueStep(StepPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        _latest[plan.JobId] = (plan.Step, plan.Attempt);
        _queue.Writer.TryWrite(ct => RunStepAsync(plan, ct));
    }

    /// <summary>
    /// Queues a restore. Every step attempt of the job this engine still runs or holds is superseded first: the
    /// coordinator restores instead of starting a new attempt, so an attempt still polling for parameters that will
    /// never come (a worker of that attempt died before sending its gradient) would otherwise hold the engine, and this
    /// restore behind it, for ever.
    /// </summary>
    public Task<RestoreResult> RestoreAsync(RestorePlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        _latest[plan.JobId] = (-1, -1);
        _restores.AddOrUpdate(plan.JobId, 1, (_, n) => n + 1);   // and a checkpoint still pulling from the old reducers gives up
        return Enqueue(ct => RestoreCoreAsync(plan, ct));
    }

    public Task<CheckpointResult> WriteCheckpointAsync(CheckpointPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        return Enqueue(ct => CheckpointCoreAsync(plan, ct));
    }

    public void Release(string jobId)
    {
        _latest.TryRemove(jobId, out _);
        _restores.TryRemove(jobId, out _);
        _queue.Writer.TryWrite(cancellationToken =>
        {
            if (_uploads.Remove(jobId, out var uploads))
            {
                // A checkpoint still uploading is finished in the background (storage may be down for a while), not dropped.
                _ = uploads.CloseAsync();
            }

            return _replicas.Remove(jobId, out var replica) ? _torch.RunAsync(replica.Dispose) : Task.CompletedTask;
        });
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        await foreach (var work in _queue.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                await work(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                LogWorkFailed(e);
            }
        }
    }

    public override void Dispose()
    {
        // The torch thread may be gone at shutdown: the replicas' native memory goes with the process.
        _replicas.Clear();
        base.Dispose();
    }

    private Task<T> Enqueue<T>(Func<CancellationToken, Task<T>> work)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _queue.Writer.TryWrite(async ct =>
        {
            try
            {
                done.SetResult(await work(ct).ConfigureAwait(false));
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        });
        return done.Task;
    }

    private bool IsSuperseded(StepPlan plan) =>
        !_latest.TryGetValue(plan.JobId, out var latest) || latest != (plan.Step, plan.Attempt);

    private async Task<Replica> GetReplicaAsync(string jobId, JobSpec spec)
    {
        if (_replicas.TryGetValue(jobId, out var replica) && replica.Spec == spec)
        {
            return replica;
        }

        if (replica is not null)
        {
            await _torch.RunAsync(replica.Dispose).ConfigureAwait(false);
        }

        _replicas.Remove(jobId);
        var options = JobOptions.Build(spec);
        var data = await _catalog.OpenAsync(spec.DataSet).ConfigureAwait(false) ?? throw new InvalidOperationException($"data set '{spec.DataSet}' is not known on silo {_silo.SiloAddress}.");
        replica = await _torch.RunAsync(() => new Replica(spec, options, data)).ConfigureAwait(false);
        _replicas[jobId] = replica;
        return replica;
    }

    private async Task RunStepAsync(StepPlan plan, CancellationToken cancellationToken)
    {
        using var span = UNetTelemetry.StartWorkerStep(plan);
        if (IsSuperseded(plan))
        {
            return;
        }

        var coordinator = _grains.GetGrain<ITrainingJobGrain>(plan.JobId);
        try
        {
            var replica = await GetReplicaAsync(plan.JobId, plan.Spec).ConfigureAwait(false);
            var shards = ParameterShards.Split(replica.ParameterCount, plan.Reducers.Count);
            var sync = new Stopwatch();
            long received = 0;
            if (replica.Version != plan.Step)
            {
                sync.Start();
                var pulled = await PullAsync(plan.Reducers, shards, ShardReducer.ParametersName, plan.Step, plan.BucketBytes, replica.Parameters, () => IsSuperseded(plan)).ConfigureAwait(false);
                sync.Stop();
                if (pulled is null)
                {
                    return;
                }

                received += pulled.Value;
                await _torch.RunAsync(replica.AssignParameters).ConfigureAwait(false);
                replica.Version = plan.Step;
            }

            var ready = replica.Sections.Ready;
            await replica.PrepareAsync(plan.Step, plan.Tiles, _torch, cancellationToken).ConfigureAwait(false);
            if (replica.Sections.Ready != ready)
            {
                LogSectionsReady(plan.JobId, plan.Step, replica.Sections.Ready, replica.Sections.Training, plan.Spec.DataSet);
            }

            // The gradient's buckets are sent after the backward pass, or with Worker:SendDuringBackward while it goes
            // on (the head's first), each as soon as it is final, so the sending overlaps the rest of the backward pass.
            var compute = Stopwatch.StartNew();
            var buckets = Buckets(shards, plan.BucketBytes);
            var handed = Channel.CreateUnbounded<int>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
            var sending = SendGradientAsync(plan, buckets, replica, handed.Reader);
            (double Loss, int Samples, bool Finite) computed;
            try
            {
                computed = await _torch.RunAsync(() => replica.ComputeGradient(
                    plan.Step, plan.Tiles, [.. buckets.Select(b => b.Bucket)], _options.Worker.SendDuringBackward, i => handed.Writer.TryWrite(i), cancellationToken)).ConfigureAwait(false);
            }
            catch
            {
                handed.Writer.TryComplete();
                _ = sending.ContinueWith(t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
                throw;
            }

            handed.Writer.TryComplete();
            compute.Stop();
            var (loss, samples, finite) = computed;
            var computedAt = DateTimeOffset.UtcNow;
            sync.Start();
            var sendClock = Stopwatch.StartNew();
            var sent = await sending.ConfigureAwait(false);
            var sendSeconds = sendClock.Elapsed.TotalSeconds;
            if (!finite)
            {
                await coordinator.ReportStepAsync(Report(plan, loss, samples, 0, received, compute.Elapsed, sync.Elapsed, "the gradient or loss is NaN or infinite")).ConfigureAwait(false);
                return;
            }

            if (sent is null)
            {
                return;
            }

            var updated = await PullAsync(plan.Reducers, shards, ShardReducer.ParametersName, plan.Step + 1, plan.BucketBytes, replica.Parameters, () => IsSuperseded(plan)).ConfigureAwait(false);
            if (updated is null)
            {
                return;
            }

            var pullSeconds = sendClock.Elapsed.TotalSeconds - sendSeconds;
            await _torch.RunAsync(replica.AssignParameters).ConfigureAwait(false);
            replica.Version = plan.Step + 1;
            sync.Stop();
            var assignSeconds = sendClock.Elapsed.TotalSeconds - sendSeconds - pullSeconds;
            LogStepTimeline(plan.JobId, plan.Step, plan.WorkerIndex, compute.Elapsed.TotalSeconds, computedAt, sendSeconds, pullSeconds, assignSeconds);

            await coordinator.ReportStepAsync(Report(plan, loss, samples, sent.Value, received + updated.Value, compute.Elapsed, sync.Elapsed, null)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogStepFailed(plan.JobId, plan.Step, plan.Attempt, e);
            if (_replicas.TryGetValue(plan.JobId, out var replica))
            {
                replica.Version = -1;   // its parameters may be half-pulled
            }

            await coordinator.ReportStepAsync(Report(plan, double.NaN, 0, 0, 0, TimeSpan.Zero, TimeSpan.Zero, e.Message)).ConfigureAwait(false);
        }
    }

    private StepReport Report(StepPlan plan, double loss, int samples, long sent, long received, TimeSpan compute, TimeSpan sync, string? error) =>
        new(WorkerKey, plan.Step, plan.Attempt, plan.WorkerIndex, loss, samples, sent, received, compute, sync, error);

    /// <summary>Every bucket of the flat vector with the shard (reducer) it belongs to, in shard order: what a step sends and pulls.</summary>
    private static List<(int Shard, ShardRange Bucket)> Buckets(IReadOnlyList<ShardRange> shards, int bucketBytes) =>
        [.. shards.SelectMany(s => ParameterShards.Buckets(s, bucketBytes).Select(b => (Shard: s.Index, Bucket: b)))];

    /// <summary>
    /// Sends each bucket of the gradient to its reducer as the compute hands it over (its index, on
    /// <paramref name="ready"/>), until the compute completes the channel. Null when the attempt is stale.
    /// </summary>
    private async Task<long?> SendGradientAsync(StepPlan plan, List<(int Shard, ShardRange Bucket)> buckets, Replica replica, ChannelReader<int> ready)
    {
        long sent = 0;
        var stale = false;
        await Parallel.ForEachAsync(ready.ReadAllAsync(), new ParallelOptions { MaxDegreeOfParallelism = MaxInFlight }, async (i, _) =>
        {
            if (Volatile.Read(ref stale))
            {
                return;
            }

            var (shard, bucket) = buckets[i];
            var values = replica.GradientMessages[i];
            var key = plan.Reducers[shard];
            var message = new GradientBucket(plan.Step, plan.Attempt, plan.WorkerIndex, plan.Tiles.Count, bucket.Offset, values);
            var outcome = await _dataPlane.EndpointOfAsync(key).ConfigureAwait(false) is { } endpoint
                ? await _dataPlane.AddGradientAsync(endpoint, key, message).ConfigureAwait(false)
                : await _grains.GetGrain<IReducerGrain>(key).AddGradientAsync(message).ConfigureAwait(false);
            switch (outcome)
            {
                case ContributionOutcome.Stale:
                    Volatile.Write(ref stale, true);
                    break;
                case ContributionOutcome.NotFinite:
                    throw new InvalidOperationException($"Reducer {plan.Reducers[shard]} refused a bucket of step {plan.Step} as not finite.");
                default:
                    Interlocked.Add(ref sent, values.Length);
                    break;
            }
        }).ConfigureAwait(false);
        return stale ? null : sent;
    }

    /// <summary>
    /// Pulls a vector at a version from the reducers into <paramref name="destination"/>, polling each bucket until
    /// its reducer has reached the version. Null when <paramref name="abandon"/> turns true meanwhile.
    /// </summary>
    private async Task<long?> PullAsync(
        IReadOnlyList<string> reducers, IReadOnlyList<ShardRange> shards, string name, long version, int bucketBytes, float[] destination, Func<bool> abandon)
    {
        var buckets = Buckets(shards, bucketBytes);
        long received = 0;
        var abandoned = false;
        await Parallel.ForEachAsync(buckets, new ParallelOptions { MaxDegreeOfParallelism = MaxInFlight }, async (item, _) =>
        {
            var key = reducers[item.Shard];
            var reducer = _grains.GetGrain<IReducerGrain>(key);
            var endpoint = await _dataPlane.EndpointOfAsync(key).ConfigureAwait(false);
            var (offset, length) = (item.Bucket.Offset, (int)item.Bucket.Length);
            var wait = 1;
            while (!Volatile.Read(ref abandoned))
            {
                if (endpoint is not null)
                {
                    // Read straight into its place in the destination.
                    if (await _dataPlane.PullAsync(endpoint, key, name, version, offset, length, destination).ConfigureAwait(false))
                    {
                        Interlocked.Add(ref received, (long)length * sizeof(float));
                        return;
                    }
                }
                else if (await reducer.GetBucketAsync(name, version, offset, length).ConfigureAwait(false) is { } bucket)
                {
                    MemoryMarshal.Cast<byte, float>(bucket.Values).CopyTo(destination.AsSpan((int)offset, length));
                    Interlocked.Add(ref received, bucket.Values.Length);
                    return;
                }

                if (abandon())
                {
                    Volatile.Write(ref abandoned, true);
                    return;
                }

                await Task.Delay(wait, CancellationToken.None).ConfigureAwait(false);
                wait = Math.Min(wait * 2, 32);
            }
        }).ConfigureAwait(false);
        return abandoned ? null : received;
    }

    private async Task<RestoreResult> RestoreCoreAsync(RestorePlan plan, CancellationToken cancellationToken)
    {
        if (_uploads.TryGetValue(plan.JobId, out var uploads))
        {
            // A checkpoint this worker is still capturing or uploading is the newest state there is: let it land first
            // (bounded waits).
            await uploads.CaptureDone.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
            await uploads.WaitForAsync(uploads.Requested, TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        }

        if (_replicas.Remove(plan.JobId, out var old))
        {
            await _torch.RunAsync(old.Dispose).ConfigureAwait(false);
        }

        var replica = await GetReplicaAsync(plan.JobId, plan.Spec).ConfigureAwait(false);
        var options = replica.Options;
        var stateNames = FlatOptimizer.StateNames(options.Optimizer.Kind);
        var state = new Dictionary<string, float[]>(StringComparer.Ordinal);
        long version = 0;
        long optimizerSteps = 0;
        string? directory = null;
        var store = _storage.Checkpoints(plan.JobId, _logger);
        (version, optimizerSteps, directory) = await _torch.RunAsync(() =>
        {
            using var checkpoint = store.LoadLatest(message => LogCorruptCheckpoint(plan.JobId, message));
            if (checkpoint is null)
            {
                return (0L, 0L, (string?)null);
            }

            if (checkpoint.Manifest.Model != options.Model || checkpoint.Manifest.Optimizer != options.Optimizer)
            {
                throw new InvalidOperationException(
                    $"The checkpoint '{checkpoint.Directory}' of job {plan.JobId} was trained with another layer plan or optimizer " +
                    $"({checkpoint.Manifest.Model}, {checkpoint.Manifest.Optimizer}); it cannot be resumed with this spec.");
            }

            replica.Engine.Model.load_state_dict(checkpoint.Weights, strict: true);
            replica.ReadParameters();
            foreach (var name in stateNames)
            {
                state[name] = checkpoint.OptimizerState[name].reshape(-1).contiguous().data<float>().ToArray();
            }

            var steps = checkpoint.OptimizerState.TryGetValue("step", out var s) ? s.item<long>() : checkpoint.Manifest.Step;
            return (checkpoint.Manifest.Step, steps, (string?)checkpoint.Directory);
        }).ConfigureAwait(false);

        replica.Version = version;
        var shards = ParameterShards.Split(replica.ParameterCount, plan.Reducers.Count);
        foreach (var shard in shards)
        {
            var reducer = _grains.GetGrain<IReducerGrain>(plan.Reducers[shard.Index]);
            await reducer.SetupAsync(new ReducerSetup(plan.JobId, plan.Spec, shard.Index, shard.Offset, shard.Length, version, optimizerSteps)).ConfigureAwait(false);
            var vectors = state.Select(kv => (kv.Key, kv.Value)).Prepend((ShardReducer.ParametersName, replica.Parameters));
            foreach (var (name, values) in vectors)
            {
                foreach (var bucket in ParameterShards.Buckets(shard, plan.BucketBytes))
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    await reducer.LoadAsync(new VectorBucket(name, version, bucket.Offset, Replica.Bytes(values, bucket.Offset, bucket.Length))).ConfigureAwait(false);
                }
            }
        }

        LogRestored(plan.JobId, version, plan.Reducers.Count, directory ?? "the seed's initial weights");
        return new RestoreResult(version, replica.ParameterCount, directory);
    }

    /// <summary>
    /// Checkpoints the committed step without holding training for more than memory copies: the reducers keep a copy of
    /// their optimizer state at the plan's version, and the model's weights are serialized from the replica (it holds
    /// exactly that version until the next step starts). Then it returns; in the background it pulls the optimizer
    /// state from the reducers' copies while training goes on, builds the snapshot and hands it to the job's upload
    /// (one in flight; a newer snapshot replaces a waiting one). With <see cref="CheckpointPlan.WaitForUpload"/> it
    /// also waits (a bounded time) for the upload, so the coordinator can make sure a job's final checkpoint is written.
    /// </summary>
    private async Task<CheckpointResult> CheckpointCoreAsync(CheckpointPlan plan, CancellationToken cancellationToken)
    {
        if (!_uploads.TryGetValue(plan.JobId, out var uploads))
        {
            uploads = new JobUploads(_storage.Checkpoints(plan.JobId, _logger), _logger);
            _uploads[plan.JobId] = uploads;
        }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        if (uploads.Requested < plan.Version)
        {
            // One capture at a time per job: a capture still pulling (storage is not involved yet) is let finish first.
            await uploads.CaptureDone.ConfigureAwait(false);
            var replica = _replicas.TryGetValue(plan.JobId, out var r) && r.Version == plan.Version
                ? r
                : throw new InvalidOperationException($"Worker {WorkerKey} does not hold job {plan.JobId} at step {plan.Version}.");
            var options = replica.Options;
            var names = FlatOptimizer.StateNames(options.Optimizer.Kind).ToList();
            var kept = await Task.WhenAll(plan.Reducers.Select(k => _grains.GetGrain<IReducerGrain>(k).SnapshotAsync(plan.Version, names))).ConfigureAwait(false);
            if (kept.Any(k => !k))
            {
                throw new InvalidOperationException($"The reducers of job {plan.JobId} are no longer at step {plan.Version}.");
            }

            var weights = await _torch.RunAsync(() => CheckpointSnapshot.SerializeModel(plan.Version, replica.Engine.Model)).ConfigureAwait(false);
            var held = clock.Elapsed.TotalSeconds;
            uploads.Capture(plan.Version, held, CaptureInBackgroundAsync(plan, replica.ParameterCount, options, weights, held));
        }

        var stall = uploads.Requested == plan.Version ? uploads.StallSeconds : 0;
        if (plan.WaitForUpload)
        {
            await uploads.CaptureDone.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
            await uploads.WaitForAsync(plan.Version, TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        }

        return uploads.Result(stall);
    }

    /// <summary>Pulls the optimizer state of a checkpoint from the reducers' copies and hands the snapshot to the upload.</summary>
    private async Task<CheckpointSnapshot> CaptureInBackgroundAsync(CheckpointPlan plan, long parameters, TrainingOptions options, byte[] weights, double held)
    {
        await Task.Yield();
        var restores = _restores.GetValueOrDefault(plan.JobId);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var shards = ParameterShards.Split(parameters, plan.Reducers.Count);
        var state = new Dictionary<string, float[]>(StringComparer.Ordinal);
        foreach (var name in FlatOptimizer.StateNames(options.Optimizer.Kind))
        {
            var values = new float[parameters];
            var received = await PullAsync(plan.Reducers, shards, name, plan.Version, plan.BucketBytes, values,
                () => _restores.GetValueOrDefault(plan.JobId) != restores).ConfigureAwait(false);
            state[name] = values;
            if (received is null)
            {
                throw new InvalidOperationException(
                    $"The checkpoint of step {plan.Version} of job {plan.JobId} was given up: the job's reducers were set up again before its optimizer state was pulled.");
            }
        }

        var pulled = clock.Elapsed.TotalSeconds;
        var optimizerBytes = await _torch.RunAsync(() =>
        {
            using var scope = NewDisposeScope();
            using var optimizer = new FlatOptimizer(options.Optimizer, parameters);
            optimizer.Load(plan.Version, state.ToDictionary(kv => kv.Key, kv => tensor(kv.Value)));
            return CheckpointSnapshot.SerializeOptimizer(optimizer);
        }).ConfigureAwait(false);
        var training = JsonSerializer.SerializeToElement(options, CheckpointManifest.JsonOptions);
        var snapshot = new CheckpointSnapshot(plan.Version, options.Seed, options.Model, options.Optimizer, training,
            plan.Loss is { } l && double.IsFinite(l) ? l : null, null, weights, optimizerBytes);
        LogSnapshot(plan.JobId, plan.Version, held, pulled, snapshot.Size);
        return snapshot;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Job {JobId} step {Step} worker {Worker}: compute {ComputeSeconds:F3} s, ended at {EndedAt:HH:mm:ss.fff}; then the gradient's last buckets sent in {SendSeconds:F3} s, the parameters pulled in {PullSeconds:F3} s and assigned in {AssignSeconds:F3} s")]
    private partial void LogStepTimeline(string jobId, long step, int worker, double computeSeconds, DateTimeOffset endedAt, double sendSeconds, double pullSeconds, double assignSeconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: checkpoint of step {Step} held training {HeldSeconds:F3} s; its optimizer state was pulled in the background in {PullSeconds:F3} s; {Bytes} bytes handed to the upload")]
    private partial void LogSnapshot(string jobId, long step, double heldSeconds, double pullSeconds, long bytes);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} step {Step}: this worker now holds {Ready} of the {Training} training sections of data set '{DataSet}' (fetched as its tiles needed them)")]
    private partial void LogSectionsReady(string jobId, long step, int ready, int training, string dataSet);

    [LoggerMessage(Level = LogLevel.Error, Message = "The training engine's work failed")]
    private partial void LogWorkFailed(Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} step {Step} attempt {Attempt} failed on this worker")]
    private partial void LogStepFailed(string jobId, long step, int attempt, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: {Message}; using the previous checkpoint")]
    private partial void LogCorruptCheckpoint(string jobId, string message);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: {Reducers} reducers set up at step {Version} from {Source}")]
    private partial void LogRestored(string jobId, long version, int reducers, string source);
}
