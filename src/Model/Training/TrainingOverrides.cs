using UNetCluster.Model.Losses;
using UNetCluster.Model.Optimization;

namespace UNetCluster.Model.Training;

/// <summary>
/// Changes to a preset a user asks for (CLI options or a job spec); null keeps the preset's value. Names in errors
/// are the CLI's option names, which are also the job spec's fields in kebab case.
/// </summary>
public sealed record TrainingOverrides(
    long? Steps = null,
    double? Minutes = null,
    int? Tile = null,
    int? Batch = null,
    int? BaseChannels = null,
    double? LearningRate = null,
    string? Optimizer = null,
    string? Loss = null,
    int? ValidationSections = null,
    bool? BalanceClasses = null,
    int? CheckpointEvery = null)
{
    /// <summary>fp32 or bf16 (<see cref="Training.Precision"/>); null keeps the preset's.</summary>
    public string? Precision { get; init; }

    /// <summary>True when an override changes what is trained (not only how long).</summary>
    public bool ChangesTheModel => Tile is not null || Batch is not null || BaseChannels is not null || LearningRate is not null ||
                                   Optimizer is not null || Loss is not null || ValidationSections is not null || BalanceClasses is not null ||
                                   Precision is not null;

    /// <summary>The preset with these overrides, validated; an unknown name or invalid value names the option.</summary>
    public TrainingOptions ApplyTo(TrainingOptions preset)
    {
        ArgumentNullException.ThrowIfNull(preset);
        var model = BaseChannels is { } channels ? preset.Model with { BaseChannels = channels } : preset.Model;
        var optimizer = preset.Optimizer;
        if (Optimizer is { } name)
        {
            optimizer = name.ToLowerInvariant() switch
            {
                "sgd" => new OptimizerOptions(OptimizerKind.Sgd, LearningRate: 0.01, Momentum: 0.99),
                "adam" => new OptimizerOptions(OptimizerKind.Adam, LearningRate: 1e-3),
                _ => throw new ArgumentException($"--optimizer '{name}' is unknown: expected sgd or adam."),
            };
        }

        if (LearningRate is { } lr)
        {
            optimizer = optimizer with { LearningRate = lr };
        }

        var loss = Loss?.ToLowerInvariant() switch
        {
            null => preset.Loss,
            "weighted-cross-entropy" => LossKind.WeightedCrossEntropy,
            "soft-dice" => LossKind.SoftDice,
            _ => throw new ArgumentException($"--loss '{Loss}' is unknown: expected weighted-cross-entropy or soft-dice."),
        };
        return (preset with
        {
            Precision = Precision is null ? preset.Precision : ParsePrecision(Precision),
            Model = model,
            Optimizer = optimizer,
            Loss = loss,
            TileSize = Tile ?? preset.TileSize,
            BatchSize = Batch ?? preset.BatchSize,
            Steps = Steps ?? preset.Steps,
            Minutes = Minutes ?? preset.Minutes,
            ValidationSections = ValidationSections ?? preset.ValidationSections,
            CheckpointEvery = CheckpointEvery ?? preset.CheckpointEvery,
            WeightMap = preset.WeightMap with { BalanceClasses = BalanceClasses ?? preset.WeightMap.BalanceClasses },
        }).Validate();
    }

    /// <summary>The precision named <paramref name="name"/> (fp32 or bf16, any case); an unknown one names <c>--precision</c>.</summary>
    public static Precision ParsePrecision(string name) => name.ToLowerInvariant() switch
    {
        "fp32" => Training.Precision.Fp32,
        "bf16" => Training.Precision.Bf16,
        _ => throw new ArgumentException($"--precision '{name}' is unknown: expected fp32 or bf16."),
    };
}
