using System.Globalization;
using UNetCluster.Data.Imaging;
using UNetCluster.Data.WeightMaps;
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
    int? CheckpointEvery = null,
    int? Classes = null,
    bool? BorderClass = null,
    IReadOnlyList<string>? ClassNames = null)
{
    /// <summary><c>--validate-every</c>: steps between validations.</summary>
    public int? ValidateEvery { get; init; }

    /// <summary><c>--validate-minutes</c>: also validate after this many minutes.</summary>
    public double? ValidateMinutes { get; init; }

    /// <summary><c>--select-by</c>: the metric that picks the best checkpoint (see <see cref="Metrics.ValidationMetrics.Names"/>).</summary>
    public string? SelectBy { get; init; }

    /// <summary><c>--patience</c>: validations without improvement before stopping early.</summary>
    public int? Patience { get; init; }

    /// <summary>Input channels of the network (1 gray, 3 RGB): the data's, which a data set must match when given.</summary>
    public int? Channels { get; init; }

    /// <summary>Per-image intensity normalisation: mean-std or percentile (<see cref="IntensityNormalisation.Names"/>).</summary>
    public string? Normalisation { get; init; }

    /// <summary><c>--border-width</c>: the border class's width in pixels on each side of a contact; null keeps the preset's (1).</summary>
    public int? BorderWidth { get; init; }

    /// <summary><c>--border-kind</c>: touching, outline or core (<see cref="Data.Labels.BorderKind"/>); null keeps the preset's (touching).</summary>
    public string? BorderKind { get; init; }

    /// <summary>
    /// <c>--class-weights</c>: fixed cross-entropy weights by class index, one per class, in place of the class balance
    /// (<see cref="WeightMapOptions.ClassWeights"/>); null keeps the preset's, which lapse when the class count differs.
    /// </summary>
    public IReadOnlyList<double>? ClassWeights { get; init; }

    /// <summary><c>--oversample</c>: the share of tiles placed over the rarest foreground class (<see cref="TrainingOptions.Oversample"/>); null keeps the preset's.</summary>
    public double? Oversample { get; init; }

    /// <summary>fp32 or bf16 (<see cref="Training.Precision"/>); null keeps the preset's.</summary>
    public string? Precision { get; init; }

    /// <summary><c>--schedule</c>: constant, cosine or cooldown (<see cref="LearningRateSchedule"/>); null keeps the preset's.</summary>
    public string? Schedule { get; init; }

    /// <summary>True when an override changes what is trained (not only how long).</summary>
    public bool ChangesTheModel => Tile is not null || Batch is not null || BaseChannels is not null || LearningRate is not null ||
                                   Optimizer is not null || Loss is not null || ValidationSections is not null || BalanceClasses is not null || ClassWeights is not null ||
                                   Classes is not null || BorderClass is not null || BorderWidth is not null || BorderKind is not null || Channels is not null || Normalisation is not null ||
                                   Precision is not null || Oversample is not null || Schedule is not null;

    /// <summary>The preset with these overrides, validated; an unknown name or invalid value names the option.</summary>
    public TrainingOptions ApplyTo(TrainingOptions preset)
    {
        ArgumentNullException.ThrowIfNull(preset);
        var model = BaseChannels is { } channels ? preset.Model with { BaseChannels = channels } : preset.Model;
        var borderClass = BorderClass ?? preset.BorderClass;
        if (borderClass && Classes is { } given && given != TrainingOptions.BorderClassCount)
        {
            throw new ArgumentException($"--classes {given} contradicts --border-class, which trains {TrainingOptions.BorderClassCount} classes (background, interior, border).");
        }

        if ((Classes ?? (borderClass ? TrainingOptions.BorderClassCount : null)) is { } classes)
        {
            model = model with { Classes = classes };
        }

        model = Channels is { } input ? model with { InputChannels = input } : model;
        if (BalanceClasses == true && ClassWeights is not null)
        {
            throw new ArgumentException("--class-weights contradicts --class-balance (balance-classes true): fixed weights replace the balance, give one of them.");
        }

        // A preset's fixed weights are for its own classes (all three for a border-class preset): they lapse when the class count
        // changes, as when --border-class false turns the nuclei preset's border class off.
        var presetClasses = preset.BorderClass ? TrainingOptions.BorderClassCount : preset.Model.Classes;
        var classWeights = ClassWeights ?? (model.Classes == presetClasses ? preset.WeightMap.ClassWeights : null);
        var optimizer = preset.Optimizer;
        if (Optimizer is { } name)
        {
            optimizer = name.ToLowerInvariant() switch
            {
                "sgd" => new OptimizerOptions(OptimizerKind.Sgd, LearningRate: 0.01, Momentum: 0.99),
                "adam" => new OptimizerOptions(OptimizerKind.Adam, LearningRate: 1e-3),
                _ => throw new ArgumentException($"--optimizer '{name}' is unknown: expected {OrList(Optimizers)}."),
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
            "dice-cross-entropy" => LossKind.DiceCrossEntropy,
            _ => throw new ArgumentException($"--loss '{Loss}' is unknown: expected {LossNames}."),
        };
        return (preset with
        {
            Precision = Precision is null ? preset.Precision : ParsePrecision(Precision),
            Model = model,
            Optimizer = optimizer,
            Schedule = Schedule is { } schedule ? ParseSchedule(schedule) : preset.Schedule,
            Loss = loss,
            TileSize = Tile ?? preset.TileSize,
            BatchSize = Batch ?? preset.BatchSize,
            Steps = Steps ?? preset.Steps,
            Minutes = Minutes ?? preset.Minutes,
            ValidationSections = ValidationSections ?? preset.ValidationSections,
            CheckpointEvery = CheckpointEvery ?? preset.CheckpointEvery,
            WeightMap = preset.WeightMap with
            {
                BalanceClasses = ClassWeights is null && (BalanceClasses ?? preset.WeightMap.BalanceClasses),
                ClassWeights = BalanceClasses == true ? null : classWeights,
            },
            Validation = preset.Validation with
            {
                Every = ValidateEvery ?? preset.Validation.Every,
                Minutes = ValidateMinutes ?? preset.Validation.Minutes,
                SelectBy = SelectBy is { } metric ? Metrics.ValidationMetrics.Parse(metric) : preset.Validation.SelectBy,
                Patience = Patience ?? preset.Validation.Patience,
            },
            BorderClass = borderClass,
            BorderWidth = BorderWidth ?? preset.BorderWidth,
            BorderKind = BorderKind is { } kind ? ParseBorderKind(kind) : preset.BorderKind,
            Oversample = Oversample ?? preset.Oversample,
            ClassNames = ClassNames ?? preset.ClassNames,
            Normalisation = Normalisation is { } normalisation ? IntensityNormalisation.Parse(normalisation) : preset.Normalisation,
        }).Validate();
    }

    /// <summary>
    /// The weights of <c>--class-weights</c> (the job spec's <c>class-weights</c>): numbers separated by commas, such as
    /// "1,1,100"; anything else is refused naming the option.
    /// </summary>
    public static IReadOnlyList<double> ParseClassWeights(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var weights = new double[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out weights[i]))
            {
                throw new ArgumentException($"--class-weights '{text}' is invalid: expected one number per class separated by commas, such as 1,1,100.");
            }
        }

        return weights;
    }

    /// <summary>The weights as <see cref="ParseClassWeights"/> reads them back: "1,1,100".</summary>
    public static string FormatClassWeights(IEnumerable<double> weights) =>
        string.Join(',', weights.Select(w => w.ToString(CultureInfo.InvariantCulture)));

    /// <summary>Accepted values as every refusal lists them: "a, b or c" (one value alone; nothing for none).</summary>
    public static string OrList(IReadOnlyList<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        return names.Count > 1 ? $"{string.Join(", ", names.Take(names.Count - 1))} or {names[^1]}" : string.Join(string.Empty, names);
    }

    /// <summary>The names <see cref="ApplyTo"/> reads for <c>--optimizer</c>, for a command line's list of accepted values.</summary>
    public static IReadOnlyList<string> Optimizers { get; } = ["sgd", "adam"];

    /// <summary>The names <see cref="ApplyTo"/> reads for <c>--loss</c>.</summary>
    public static IReadOnlyList<string> Losses { get; } = ["weighted-cross-entropy", "soft-dice", "dice-cross-entropy"];

    /// <summary>The <c>--loss</c> names, as the errors list them: "weighted-cross-entropy, soft-dice or dice-cross-entropy".</summary>
    public static string LossNames { get; } = OrList(Losses);

    /// <summary>The names <see cref="ParseBorderKind"/> reads for <c>--border-kind</c>.</summary>
    public static IReadOnlyList<string> BorderKinds { get; } = ["touching", "outline", "core"];

    /// <summary>The border kinds as a refusal lists them: "touching, outline or core".</summary>
    public static string BorderKindNames { get; } = OrList(BorderKinds);

    /// <summary>The names <see cref="ParseSchedule"/> reads for <c>--schedule</c>.</summary>
    public static IReadOnlyList<string> Schedules { get; } = ["constant", "cosine", "cooldown"];

    /// <summary>The schedules as a refusal lists them: "constant, cosine or cooldown".</summary>
    public static string ScheduleNames { get; } = OrList(Schedules);

    /// <summary>The learning-rate schedule named <paramref name="name"/> (constant, cosine or cooldown, any case); an unknown one names <c>--schedule</c>.</summary>
    public static LearningRateSchedule ParseSchedule(string name) => name.ToLowerInvariant() switch
    {
        "constant" => LearningRateSchedule.Constant,
        "cosine" => LearningRateSchedule.Cosine,
        "cooldown" => LearningRateSchedule.Cooldown,
        _ => throw new ArgumentException($"--schedule '{name}' is unknown: expected {ScheduleNames}."),
    };

    /// <summary>The names <see cref="ParsePrecision"/> reads for <c>--precision</c>.</summary>
    public static IReadOnlyList<string> Precisions { get; } = ["fp32", "bf16"];

    /// <summary>The border kind named <paramref name="name"/> (touching, outline or core, any case); an unknown one names <c>--border-kind</c>.</summary>
    public static Data.Labels.BorderKind ParseBorderKind(string name) => name.ToLowerInvariant() switch
    {
        "touching" => Data.Labels.BorderKind.Touching,
        "outline" => Data.Labels.BorderKind.Outline,
        "core" => Data.Labels.BorderKind.Core,
        _ => throw new ArgumentException($"--border-kind '{name}' is unknown: expected {BorderKindNames}."),
    };

    /// <summary>The precision named <paramref name="name"/> (fp32 or bf16, any case); an unknown one names <c>--precision</c>.</summary>
    public static Precision ParsePrecision(string name) => name.ToLowerInvariant() switch
    {
        "fp32" => Training.Precision.Fp32,
        "bf16" => Training.Precision.Bf16,
        _ => throw new ArgumentException($"--precision '{name}' is unknown: expected {OrList(Precisions)}."),
    };
}
