using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using UNetCluster.Contracts.Grains;
using UNetCluster.Contracts.Messages;
using UNetCluster.Model.Checkpoints;
using UNetCluster.Model.Distributed;
using UNetCluster.Model.Optimization;
using UNetCluster.Model.Training;
using UNetCluster.Training.Checkpoints;
using UNetCluster.Training.Jobs;
using static TorchSharp.torch;

namespace UNetCluster.Training.Worker;

/// <summary>
/// A worker's checkpoints of its jobs, without holding training for more than memory copies: the reducers keep a copy
/// of their optimizer state at the committed step and the weights are serialized from the replica (it holds exactly
/// that step until the next one starts). The optimizer state is then pulled from the reducers' copies in the
/// background while training goes on, and the snapshot goes to the job's upload (<see cref="JobUploads"/>: one in
/// flight, a newer snapshot replaces a waiting one). Used from the engine's one work loop.
/// </summary>
public sealed partial class CheckpointCapture(IGrainFactory grains, BucketExchange exchange, JobStorage storage, TorchThread torch, ILogger<CheckpointCapture> logger)
{
    private readonly Dictionary<string, JobUploads> _uploads = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _generations = new(StringComparer.Ordinal);   // reducer set-ups asked for, by job

    /// <summary>The job's reducers are being set up again: a capture still pulling from the old ones gives up. Thread-safe.</summary>
    public void ReducersReplaced(string jobId) => _generations.AddOrUpdate(jobId, 1, (_, n) => n + 1);

    /// <summary>Lets a checkpoint this worker still captures or uploads land first (bounded waits): it is the newest state there is.</summary>
    public async Task SettleAsync(string jobId, CancellationToken cancellationToken)
    {
        if (_uploads.TryGetValue(jobId, out var uploads))
        {
            await uploads.CaptureDone.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
            await uploads.WaitForAsync(uploads.Requested, TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Checkpoints the plan's committed step from <paramref name="replica"/> and returns once training may go on; with
    /// <see cref="CheckpointPlan.WaitForUpload"/> it also waits (a bounded time) for the upload, so the coordinator can
    /// make sure a job's final checkpoint is written.
    /// </summary>
    public async Task<CheckpointResult> CaptureAsync(CheckpointPlan plan, Replica? replica, string worker, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (!_uploads.TryGetValue(plan.JobId, out var uploads))
        {
            uploads = new JobUploads(storage.Checkpoints(plan.JobId, logger), logger);
            _uploads[plan.JobId] = uploads;
        }

        var clock = Stopwatch.StartNew();
        if (uploads.Requested < plan.Version)
        {
            // One capture at a time per job: a capture still pulling (storage is not involved yet) is let finish first.
            await uploads.CaptureDone.ConfigureAwait(false);
            if (replica is null || replica.Version != plan.Version)
            {
                throw new InvalidOperationException($"Worker {worker} does not hold job {plan.JobId} at step {plan.Version}.");
            }

            var names = FlatOptimizer.StateNames(replica.Options.Optimizer.Kind).ToList();
            var kept = await Task.WhenAll(plan.Reducers.Select(k => grains.GetGrain<IReducerGrain>(k).SnapshotAsync(plan.Version, names))).ConfigureAwait(false);
            if (kept.Any(k => !k))
            {
                throw new InvalidOperationException($"The reducers of job {plan.JobId} are no longer at step {plan.Version}.");
            }

            // The checkpoint keeps the fp32 masters (the reducers are still at this version: training goes on only once
            // this call returns).
            var generation = _generations.GetValueOrDefault(plan.JobId);
            if (!await exchange.EnsureMastersAsync(replica, plan.Reducers, plan.BucketBytes, plan.Version, torch,
                    () => _generations.GetValueOrDefault(plan.JobId) != generation).ConfigureAwait(false))
            {
                throw new InvalidOperationException($"The checkpoint of step {plan.Version} of job {plan.JobId} was given up: the job's reducers were set up again before its parameters were pulled.");
            }

            var model = replica.Engine.Model;
            var weights = await torch.RunAsync(() => CheckpointSnapshot.SerializeModel(plan.Version, model)).ConfigureAwait(false);
            var held = clock.Elapsed.TotalSeconds;
            var layout = replica.Layout(plan.Reducers.Count, plan.BucketBytes);
            uploads.Capture(plan.Version, held, CaptureInBackgroundAsync(plan, layout, replica.ParameterCount, replica.Options, weights, held));
        }

        var stall = uploads.Requested == plan.Version ? uploads.StallSeconds : 0;
        if (plan.WaitForUpload)
        {
            await uploads.CaptureDone.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
            await uploads.WaitForAsync(plan.Version, TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        }

        return uploads.Result(stall);
    }

    /// <summary>Forgets a job: a checkpoint still uploading is finished in the background (storage may be away a while), not dropped.</summary>
    public void Close(string jobId)
    {
        _generations.TryRemove(jobId, out _);
        if (_uploads.Remove(jobId, out var uploads))
        {
            _ = uploads.CloseAsync();
        }
    }

    /// <summary>Pulls the optimizer state of a checkpoint from the reducers' copies and builds the snapshot for the upload.</summary>
    private async Task<CheckpointSnapshot> CaptureInBackgroundAsync(
        CheckpointPlan plan, IReadOnlyList<ShardBucket> layout, long parameters, TrainingOptions options, byte[] weights, double held)
    {
        await Task.Yield();
        var generation = _generations.GetValueOrDefault(plan.JobId);
        var clock = Stopwatch.StartNew();
        var state = new Dictionary<string, float[]>(StringComparer.Ordinal);
        foreach (var name in FlatOptimizer.StateNames(options.Optimizer.Kind))
        {
            var values = new float[parameters];
            var received = await exchange.PullAsync(plan.Reducers, layout, name, plan.Version, values,
                () => _generations.GetValueOrDefault(plan.JobId) != generation).ConfigureAwait(false);
            state[name] = received is null
                ? throw new InvalidOperationException(
                    $"The checkpoint of step {plan.Version} of job {plan.JobId} was given up: the job's reducers were set up again before its optimizer state was pulled.")
                : values;
        }

        var pulled = clock.Elapsed.TotalSeconds;
        var optimizerBytes = await torch.RunAsync(() =>
        {
            using var scope = NewDisposeScope();
            using var optimizer = new FlatOptimizer(options.Optimizer, parameters);
            optimizer.Load(plan.Version, state.ToDictionary(kv => kv.Key, kv => tensor(kv.Value)));
            return CheckpointSnapshot.SerializeOptimizer(optimizer);
        }).ConfigureAwait(false);
        var training = JsonSerializer.SerializeToElement(options, CheckpointManifest.JsonOptions);
        var snapshot = new CheckpointSnapshot(plan.Version, options.Seed, options.Model, options.Optimizer, training,
            plan.Loss is { } l && double.IsFinite(l) ? l : null, plan.Best?.Threshold ?? plan.Threshold, weights, optimizerBytes)
        {
            Selection = plan.Best is { } best ? new CheckpointSelection(best.Metric, best.Value, best.Threshold, best.MinObjectPixels) : null,
            MinObjectPixels = plan.MinObjectPixels is null ? null : plan.Best?.MinObjectPixels ?? plan.MinObjectPixels,
        };
        LogSnapshot(plan.JobId, plan.Version, held, pulled, snapshot.Size);
        return snapshot;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: checkpoint of step {Step} held training {HeldSeconds:F3} s; its optimizer state was pulled in the background in {PullSeconds:F3} s; {Bytes} bytes handed to the upload")]
    private partial void LogSnapshot(string jobId, long step, double heldSeconds, double pullSeconds, long bytes);
}
