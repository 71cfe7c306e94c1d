using UNetCluster.Contracts.Jobs;
using UNetCluster.Model.Training;

namespace UNetCluster.Training.Jobs;

/// <summary>Turns a job spec into the training options every worker and the coordinator use.</summary>
public static class JobOptions
{
    /// <summary>Default size of a gradient or parameter message.</summary>
    public const int DefaultBucketKiB = 4096;

    /// <summary>The preset with the spec's overrides; throws an <see cref="ArgumentException"/> naming the field.</summary>
    public static TrainingOptions Build(JobSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var overrides = new TrainingOverrides(
            spec.Steps, spec.Minutes, spec.TileSize, spec.BatchSize, spec.BaseChannels, spec.LearningRate, spec.Optimizer, spec.Loss,
            spec.ValidationSections, spec.BalanceClasses, spec.CheckpointEvery, spec.Classes, spec.BorderClass, spec.ClassNames?.Split(',').Select(n => n.Trim()).ToList())
        {
            ValidateEvery = spec.ValidateEvery,
            ValidateMinutes = spec.ValidateMinutes,
            SelectBy = spec.SelectBy,
            Patience = spec.Patience,
            Channels = spec.Channels,
            Normalisation = spec.Normalisation,
            BorderWidth = spec.BorderWidth,
            BorderKind = spec.BorderKind,
            Precision = spec.Precision,
            Oversample = spec.Oversample,
            Schedule = spec.Schedule,
            ClassWeights = spec.ClassWeights is { } weights ? TrainingOverrides.ParseClassWeights(weights) : null,
        };
        return overrides.ApplyTo(Presets.Get(spec.Preset, spec.Seed));
    }

    public static int BucketBytes(JobSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return (spec.BucketKiB ?? DefaultBucketKiB) * 1024;
    }

    /// <summary>The job spec that trains <paramref name="dataSet"/> with a preset and CLI-style overrides.</summary>
    public static JobSpec Spec(string dataSet, string preset, long seed, TrainingOverrides overrides)
    {
        ArgumentNullException.ThrowIfNull(overrides);
        return new JobSpec
        {
            DataSet = dataSet,
            Preset = preset,
            Seed = seed,
            Steps = overrides.Steps,
            Minutes = overrides.Minutes,
            TileSize = overrides.Tile,
            BatchSize = overrides.Batch,
            BaseChannels = overrides.BaseChannels,
            LearningRate = overrides.LearningRate,
            Optimizer = overrides.Optimizer,
            Loss = overrides.Loss,
            ValidationSections = overrides.ValidationSections,
            BalanceClasses = overrides.BalanceClasses,
            ClassWeights = overrides.ClassWeights is { } weights ? TrainingOverrides.FormatClassWeights(weights) : null,
            CheckpointEvery = overrides.CheckpointEvery,
            ValidateEvery = overrides.ValidateEvery,
            ValidateMinutes = overrides.ValidateMinutes,
            SelectBy = overrides.SelectBy,
            Patience = overrides.Patience,
            Classes = overrides.Classes,
            BorderClass = overrides.BorderClass,
            BorderWidth = overrides.BorderWidth,
            BorderKind = overrides.BorderKind,
            ClassNames = overrides.ClassNames is { } names ? string.Join(',', names) : null,
            Channels = overrides.Channels,
            Normalisation = overrides.Normalisation,
            Precision = overrides.Precision,
            Oversample = overrides.Oversample,
            Schedule = overrides.Schedule,
        };
    }
}
