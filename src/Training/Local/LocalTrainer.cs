using System.Diagnostics;
using System.Text.Json;
using UNetCluster.Model.Checkpoints;
using UNetCluster.Model.Optimization;
using UNetCluster.Model.Training;
using UNetCluster.Training.Checkpoints;
using static TorchSharp.torch;

namespace UNetCluster.Training.Local;

/// <summary>
/// Synchronous training in one process: each step computes the gradient of tiles 0..B-1 (see
/// <see cref="GradientEngine"/>), applies the optimizer to the flat parameter vector and writes checkpoints. The
/// run is a function of its options and seed: a resumed run continues the same sequence of tiles.
/// </summary>
public sealed class LocalTrainer : IDisposable
{
    private const int MaxRecomputes = 2;

    private readonly TrainingOptions _options;
    private readonly GradientEngine _engine;
    private readonly FlatOptimizer _optimizer;
    private readonly Tensor _parameters;
    private readonly CheckpointStore _store;
    private readonly CheckpointUploader? _uploader;

    /// <param name="uploader">If given (it must write to <paramref name="store"/>), the periodic checkpoints are
    /// snapshots handed to it, uploaded in the background; the one at the end of <see cref="Run"/> waits until it and
    /// everything before it is written. Without it every checkpoint is written before training goes on.</param>
    public LocalTrainer(TrainingOptions options, TrainingData data, CheckpointStore store, CheckpointUploader? uploader = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(store);
        if (uploader is not null && !ReferenceEquals(uploader.Store, store))
        {
            throw new ArgumentException("The checkpoint uploader writes to another store than the trainer's.", nameof(uploader));
        }

        _options = options.Validate();
        _store = store;
        _uploader = uploader;
        _engine = new GradientEngine(options, data.Training);
        _parameters = _engine.FlattenParameters().DetachFromDisposeScope();
        _optimizer = new FlatOptimizer(options.Optimizer, _parameters.numel());
    }

    /// <summary>Steps applied so far.</summary>
    public long Step { get; private set; }

    public UNetCluster.Model.Modules.UNet Model => _engine.Model;

    public long ParameterCount => _engine.ParameterCount;

    /// <summary>How often a step was recomputed because its gradient was not finite.</summary>
    public int RecomputedSteps { get; private set; }

    /// <summary>
    /// Continues from the latest good checkpoint in the store, if any. Refuses a checkpoint made with another layer
    /// plan or optimizer. Returns the step resumed from (0 when there is none).
    /// </summary>
    public long Resume(Action<string>? onCorrupt = null)
    {
        using var checkpoint = _store.LoadLatest(onCorrupt);
        if (checkpoint is null)
        {
            return 0;
        }

        if (checkpoint.Manifest.Model != _options.Model || checkpoint.Manifest.Optimizer != _options.Optimizer)
        {
            throw new InvalidOperationException(
                $"The checkpoint '{checkpoint.Directory}' was trained with another layer plan or optimizer " +
                $"({checkpoint.Manifest.Model}, {checkpoint.Manifest.Optimizer}); resume with the same preset and options, or use another --out.");
        }

        _engine.Model.load_state_dict(checkpoint.Weights, strict: true);
        using (var flat = _engine.FlattenParameters())
        {
            _parameters.copy_(flat);
        }

        var steps = checkpoint.OptimizerState.TryGetValue("step", out var s) ? s.item<long>() : checkpoint.Manifest.Step;
        _optimizer.Load(steps, checkpoint.OptimizerState);
        Step = checkpoint.Manifest.Step;
        return Step;
    }

    /// <summary>
    /// Runs steps until <see cref="TrainingOptions.Steps"/>, the time budget, or cancellation; writes a checkpoint
    /// every <see cref="TrainingOptions.CheckpointEvery"/> steps and at the end (also when cancelled).
    /// </summary>
    public TrainingOutcome Run(IProgress<TrainingProgress>? progress, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var budget = _options.Minutes is { } minutes ? TimeSpan.FromMinutes(minutes) : (TimeSpan?)null;
        var tiles = Enumerable.Range(0, _options.BatchSize).Select(i => (long)i).ToArray();
        var startStep = Step;
        double smoothed = double.NaN;
        string? checkpoint = null;
        var stop = TrainingStop.Completed;
        while (Step < _options.Steps)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                stop = TrainingStop.Cancelled;
                break;
            }

            if (budget is { } limit && clock.Elapsed >= limit)
            {
                stop = TrainingStop.TimeLimit;
                break;
            }

            {
                var result = ComputeFiniteGradient(tiles);
                _optimizer.Step(_parameters, result.Gradient, _options.LearningRateAt(_options.ScheduleProgress(Step, clock.Elapsed)));
                _engine.AssignParameters(_parameters);
                Step++;
                smoothed = double.IsNaN(smoothed) ? result.Loss : (0.9 * smoothed) + (0.1 * result.Loss);
                var done = Step - startStep;
                var rate = done * _options.BatchSize / clock.Elapsed.TotalSeconds;
                var bySteps = TimeSpan.FromSeconds((_options.Steps - Step) * clock.Elapsed.TotalSeconds / done);
                var remaining = budget is { } b && b - clock.Elapsed < bySteps ? b - clock.Elapsed : bySteps;
                progress?.Report(new TrainingProgress(Step, _options.Steps, result.Loss, smoothed, rate, clock.Elapsed, remaining < TimeSpan.Zero ? TimeSpan.Zero : remaining));
            }

            if (Step % _options.CheckpointEvery == 0)
            {
                checkpoint = _uploader is null ? Save(smoothed) : Enqueue(smoothed);
            }
        }

        if (Step > 0 && (checkpoint is null || Step % _options.CheckpointEvery != 0))
        {
            checkpoint = _uploader is null ? Save(smoothed) : Enqueue(smoothed);
        }

        // The run's last checkpoint is written before Run returns, however long storage takes to come back.
        _uploader?.FlushAsync(CancellationToken.None).GetAwaiter().GetResult();

        var trained = Step - startStep;
        return new TrainingOutcome(Step, stop, smoothed, clock.Elapsed, trained * _options.BatchSize / Math.Max(clock.Elapsed.TotalSeconds, 1e-9), checkpoint);
    }

    /// <summary>
    /// The step's gradient; a NaN or infinite one is refused and the step recomputed from the same seed (the failure
    /// model's rule for a worker's bad contribution), at most <see cref="MaxRecomputes"/> times.
    /// </summary>
    private GradientResult ComputeFiniteGradient(long[] tiles)
    {
        for (var attempt = 0; ; attempt++)
        {
            var result = _engine.ComputeGradient(Step, tiles, CancellationToken.None);
            if (double.IsFinite(result.Loss) && GradientEngine.IsFinite(result.Gradient))
            {
                return result;
            }

            RecomputedSteps++;
            if (attempt >= MaxRecomputes)
            {
                throw new InvalidOperationException(
                    $"Step {Step} gave a NaN or infinite loss or gradient {MaxRecomputes + 1} times: the training diverged. " +
                    "Lower the learning rate (--lr) or use another optimizer (--optimizer).");
            }
        }
    }

    /// <summary>Rewrites the current step's checkpoint with a calibrated decision threshold (see <see cref="ThresholdCalibration"/>).</summary>
    public string SaveWithThreshold(double smoothedLoss, double threshold) => Save(smoothedLoss, threshold);

    private string Enqueue(double loss)
    {
        _uploader!.Enqueue(CheckpointSnapshot.Capture(Step, _engine.Model, _optimizer, _options.Seed,
            JsonSerializer.SerializeToElement(_options, CheckpointManifest.JsonOptions), loss));
        return _store.Describe(Step);
    }

    private string Save(double loss, double? threshold = null) =>
        _store.Save(Step, _engine.Model, _optimizer, _options.Seed, JsonSerializer.SerializeToElement(_options, CheckpointManifest.JsonOptions), double.IsFinite(loss) ? loss : null, threshold);

    public void Dispose()
    {
        _optimizer.Dispose();
        _parameters.Dispose();
        _engine.Dispose();
    }
}
