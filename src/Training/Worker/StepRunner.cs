using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using UNetCluster.Contracts.Messages;
using UNetCluster.Model.Distributed;
using UNetCluster.Model.Training;
using UNetCluster.Training.Settings;

namespace UNetCluster.Training.Worker;

/// <summary>
/// One worker's part of a step, outside any grain turn: pull the parameters if the replica is stale, make the tiles'
/// sections ready, forward and backward on the torch thread while the gradient's buckets go to the reducers (after
/// the backward pass, or during it with <see cref="WorkerSettings.SendDuringBackward"/>), pull the updated
/// parameters, and say what to report. An attempt superseded meanwhile (the coordinator recomputes the step) is
/// abandoned at its next message and reports nothing.
/// </summary>
public sealed partial class StepRunner(TorchThread torch, BucketExchange exchange, WorkerSettings settings, WorkerFaults faults, ILogger<StepRunner> logger)
{
    /// <summary>The report of the attempt (with its error if it failed); null when it was superseded.</summary>
    public async Task<StepReport?> RunAsync(string worker, StepPlan plan, ReplicaSet replicas, Func<bool> superseded, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(replicas);
        try
        {
            var replica = await replicas.GetAsync(plan.JobId, plan.Spec).ConfigureAwait(false);
            return await RunAsync(worker, plan, replica, superseded, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogStepFailed(plan.JobId, plan.Step, plan.Attempt, e);
            replicas.Invalidate(plan.JobId);   // its parameters may be half-pulled
            return new StepReport(worker, plan.Step, plan.Attempt, plan.WorkerIndex, double.NaN, 0, 0, 0, TimeSpan.Zero, TimeSpan.Zero, e.Message);
        }
    }

    private async Task<StepReport?> RunAsync(string worker, StepPlan plan, Replica replica, Func<bool> superseded, CancellationToken cancellationToken)
    {
        var layout = replica.Layout(plan.Reducers.Count, plan.BucketBytes);
        var sync = new Stopwatch();
        long received = 0;
        if (replica.Version != plan.Step)
        {
            sync.Start();
            var pulled = await exchange.PullParametersAsync(replica, plan.Reducers, plan.BucketBytes, plan.Step, replica.Wire, torch, superseded).ConfigureAwait(false);
            sync.Stop();
            if (pulled is null)
            {
                return null;
            }

            received += pulled.Value;
        }

        await PrepareAsync(plan, replica, cancellationToken).ConfigureAwait(false);
        var compute = Stopwatch.StartNew();
        var handed = Channel.CreateUnbounded<int>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var sending = exchange.SendGradientAsync(plan, layout, i => faults.Apply(plan, replica.GradientMessages[i]), handed.Reader, replica.Wire);
        var (loss, samples, finite) = await ComputeAsync(plan, replica, layout, handed.Writer, sending, cancellationToken).ConfigureAwait(false);
        compute.Stop();
        var computedAt = DateTimeOffset.UtcNow;
        sync.Start();
        var clock = Stopwatch.StartNew();
        long? sent;
        try
        {
            sent = await sending.ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A reducer refused a bucket (not finite) or a send failed: the replica still holds the step's parameters
            // (sending only reads the gradient), so it is kept, and the recomputed attempt starts from it without a pull.
            LogStepFailed(plan.JobId, plan.Step, plan.Attempt, e);
            return Report(worker, plan, replica, loss, samples, 0, received, compute.Elapsed, sync.Elapsed, e.Message);
        }

        var sendSeconds = clock.Elapsed.TotalSeconds;
        if (!finite)
        {
            return Report(worker, plan, replica, loss, samples, 0, received, compute.Elapsed, sync.Elapsed, "the gradient or loss is NaN or infinite");
        }

        if (sent is null)
        {
            return null;
        }

        long? updated;
        try
        {
            updated = await exchange.PullParametersAsync(replica, plan.Reducers, plan.BucketBytes, plan.Step + 1, replica.Wire, torch, superseded).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException && replica.Version == plan.Step)
        {
            // A reducer was lost while the new parameters came in: the model still holds the step's parameters (they are
            // assigned only once every bucket is in), so the replica is kept at the step, which the coordinator
            // recomputes once it has put the reducer's copy in its place: the other reducers may have moved on already.
            LogStepFailed(plan.JobId, plan.Step, plan.Attempt, e);
            return Report(worker, plan, replica, loss, samples, 0, received, compute.Elapsed, sync.Elapsed, $"pulling the new parameters failed: {e.Message}");
        }

        if (updated is null)
        {
            return null;
        }

        sync.Stop();
        LogStepTimeline(plan.JobId, plan.Step, plan.WorkerIndex, compute.Elapsed.TotalSeconds, computedAt, sendSeconds, clock.Elapsed.TotalSeconds - sendSeconds);
        return Report(worker, plan, replica, loss, samples, sent.Value, received + updated.Value, compute.Elapsed, sync.Elapsed, null);
    }

    private async Task PrepareAsync(StepPlan plan, Replica replica, CancellationToken cancellationToken)
    {
        var ready = replica.Sections.Ready;
        await replica.PrepareAsync(plan.Step, plan.Tiles, torch, cancellationToken).ConfigureAwait(false);
        if (replica.Sections.Ready != ready)
        {
            LogSectionsReady(plan.JobId, plan.Step, replica.Sections.Ready, replica.Sections.Training, plan.Spec.DataSet);
        }
    }

    /// <summary>Forward and backward on the torch thread, handing each final bucket to the sender; the channel is completed either way.</summary>
    private async Task<(double Loss, int Samples, bool Finite)> ComputeAsync(
        StepPlan plan, Replica replica, IReadOnlyList<ShardBucket> layout, ChannelWriter<int> handed, Task sending, CancellationToken cancellationToken)
    {
        try
        {
            return await torch.RunAsync(() => replica.ComputeGradient(
                plan.Step, plan.Tiles, layout, settings.SendDuringBackward, i => handed.TryWrite(i), cancellationToken)).ConfigureAwait(false);
        }
        catch
        {
            _ = sending.ContinueWith(t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            throw;
        }
        finally
        {
            handed.TryComplete();
        }
    }

    private static StepReport Report(string worker, StepPlan plan, Replica replica, double loss, int samples, long sent, long received, TimeSpan compute, TimeSpan sync, string? error) =>
        new(worker, plan.Step, plan.Attempt, plan.WorkerIndex, loss, samples, sent, received, compute, sync, error, replica.Engine.Describe(), MemoryInUse.Bytes());

    [LoggerMessage(Level = LogLevel.Debug, Message = "Job {JobId} step {Step} worker {Worker}: compute {ComputeSeconds:F3} s, ended at {EndedAt:HH:mm:ss.fff}; then the gradient's last buckets sent in {SendSeconds:F3} s, the parameters pulled and assigned in {PullSeconds:F3} s")]
    private partial void LogStepTimeline(string jobId, long step, int worker, double computeSeconds, DateTimeOffset endedAt, double sendSeconds, double pullSeconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} step {Step}: this worker now holds {Ready} of the {Training} training sections of data set '{DataSet}' (fetched as its tiles needed them)")]
    private partial void LogSectionsReady(string jobId, long step, int ready, int training, string dataSet);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} step {Step} attempt {Attempt} failed on this worker")]
    private partial void LogStepFailed(string jobId, long step, int attempt, Exception exception);
}
