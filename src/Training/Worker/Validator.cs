using System.Diagnostics;
using UNetCluster.Contracts.Messages;
using UNetCluster.Model.Inference;
using UNetCluster.Model.Metrics;
using UNetCluster.Model.Training;
using static TorchSharp.torch;

namespace UNetCluster.Training.Worker;

/// <summary>
/// A worker's part of a job's validation: its share of the validation sections predicted with the overlap-tile
/// predictor from its replica at the committed step, each scored at every candidate decision threshold
/// (<see cref="ThresholdSweep"/>), so that the coordinator can choose the threshold best for the job's metric over
/// all sections together. It validates the fp32 masters, as a checkpoint keeps them: a bf16 job's replica holds only
/// their bf16 rounding, so it pulls them from the plan's reducers first (training waits while the workers validate,
/// so the reducers are still at the plan's version).
/// </summary>
public sealed class Validator(TorchThread torch, BucketExchange exchange)
{
    /// <exception cref="InvalidOperationException">The worker holds no replica of the job at the plan's step.</exception>
    public async Task<ValidationReport> ValidateAsync(ValidationPlan plan, Replica? replica, string worker, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (replica is null)
        {
            throw new InvalidOperationException($"worker {worker} holds no replica of job '{plan.JobId}' at step {plan.Version} to validate.");
        }

        var clock = Stopwatch.StartNew();
        if (!replica.ParametersExact && plan.Reducers is not { Count: > 0 })
        {
            throw new InvalidOperationException(
                $"the replica of job '{plan.JobId}' holds the bf16 rounding of step {replica.Version}'s parameters and the plan names no reducers to pull step {plan.Version}'s fp32 parameters from.");
        }

        if (!await exchange.EnsureMastersAsync(replica, plan.Reducers ?? [], plan.BucketBytes, plan.Version, torch, () => cancellationToken.IsCancellationRequested).ConfigureAwait(false))
        {
            cancellationToken.ThrowIfCancellationRequested();
        }

        var sections = await replica.ValidationShareAsync(plan.WorkerIndex, plan.Workers, cancellationToken).ConfigureAwait(false);
        var sweeps = await torch.RunAsync(() =>
        {
            replica.AssignParameters();
            var predictor = new OverlapTilePredictor(replica.Engine.Model, replica.Options.PredictionTileSize ?? replica.Options.TileSize);
            var scored = new List<ThresholdSweep>();
            foreach (var section in sections)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                using var image = TrainingData.ImageTensor(section.Image, replica.Options.Normalisation);
                var probabilities = predictor.PredictProbabilities(image);
                var (width, height) = (section.Image.Width, section.Image.Height);
                scored.Add(replica.Options.Model.Classes == 2 ? ThresholdSweep.Score(section.Id, probabilities, section.Mask, section.Instances, width, height)
                    : replica.Options.BorderClass ? ThresholdSweep.ScoreBorderClass(section.Id, probabilities, section.Mask, section.Instances, width, height, contacts: section.Border)
                    : ThresholdSweep.ScoreArgMax(section.Id, probabilities, section.Mask, width, height));
            }

            return scored;
        }).ConfigureAwait(false);
        return new ValidationReport(worker, plan.Version, [.. sweeps.Select(ToMessage)], clock.Elapsed.TotalSeconds);
    }

    private static SectionValidation ToMessage(ThresholdSweep sweep) => new(
        sweep.Id,
        sweep.Thresholds,
        sweep.Values(ValidationMetric.PixelError),
        sweep.Values(ValidationMetric.RandError),
        sweep.Values(ValidationMetric.Dice),
        sweep.Values(ValidationMetric.IoU),
        sweep.Objects is null ? null : sweep.Values(ValidationMetric.ObjectF1),
        sweep.Objects?.Select(o => o.MeanF1).ToArray(),
        sweep.MinObjectPixels,
        sweep.Contacts?.Pixels,
        sweep.Contacts?.Marked);
}
