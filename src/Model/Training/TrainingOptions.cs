using UNetCluster.Data.Augmentation;
using UNetCluster.Data.Imaging;
using UNetCluster.Data.WeightMaps;
using UNetCluster.Model.Losses;
using UNetCluster.Model.Optimization;

namespace UNetCluster.Model.Training;

/// <summary>How the learning rate changes over a run.</summary>
public enum LearningRateSchedule
{
    /// <summary>The optimizer's learning rate throughout.</summary>
    Constant,

    /// <summary>
    /// Cosine decay from the optimizer's learning rate to 0 over the run: lr * (1 + cos(pi * progress)) / 2, where
    /// progress is the fraction of the steps done or, with a time budget, of the budget used, whichever is larger.
    /// </summary>
    Cosine,

    /// <summary>
    /// The optimizer's learning rate for the first <see cref="TrainingOptions.CooldownStart"/> of the run, then a linear
    /// decay to 0 over the rest ("constant with cooldown", Hägele et al. 2024): the rate stays high for longer than the
    /// cosine's, and the run still ends settled. Progress as for <see cref="Cosine"/>.
    /// </summary>
    Cooldown,
}

/// <summary>
/// The number format of a worker's forward and backward pass. Master parameters, optimizer state, the gradient the
/// reducers receive and checkpoints are fp32 either way.
/// </summary>
public enum Precision
{
    /// <summary>Everything in float32.</summary>
    Fp32,

    /// <summary>
    /// Forward and backward in bfloat16 from a bf16 copy of the fp32 weights; the loss and its softmax in fp32 (the
    /// logits are cast first); the gradient handed on as fp32 (FSDP's "param_dtype bf16, master fp32").
    /// </summary>
    Bf16,
}

/// <summary>The libtorch number format of a <see cref="Precision"/>.</summary>
public static class PrecisionTypes
{
    public static TorchSharp.torch.ScalarType ScalarType(this Precision precision) =>
        precision == Precision.Bf16 ? TorchSharp.torch.ScalarType.BFloat16 : TorchSharp.torch.ScalarType.Float32;
}

/// <summary>
/// Everything that decides a training run. Presets give tested combinations (<see cref="Presets"/>); the default
/// is <c>quick</c>, the one the README's first command runs.
/// </summary>
/// <param name="Model">The network's layer plan.</param>
/// <param name="Optimizer">Optimizer hyper-parameters.</param>
/// <param name="Loss">Training objective.</param>
/// <param name="TileSize">Input tile side; must be valid for the model (572 in the paper).</param>
/// <param name="BatchSize">Tiles per step (the paper: 1 large tile).</param>
/// <param name="Steps">Optimizer steps to run (the run also stops at <paramref name="Minutes"/>).</param>
/// <param name="Minutes">Wall-clock budget for the training loop, or null for none.</param>
/// <param name="Seed">Seed of every random draw: tile positions, augmentation and the initial weights.</param>
/// <param name="ValidationSections">Labelled sections held out of training for validation (evenly spaced).</param>
/// <param name="CheckpointEvery">Write a checkpoint every this many steps (and always at the end).</param>
/// <param name="PredictionTileSize">Tile side for overlap-tile prediction, or null for <paramref name="TileSize"/>.</param>
public sealed record TrainingOptions(
    UNetOptions Model,
    OptimizerOptions Optimizer,
    LossKind Loss,
    int TileSize,
    int BatchSize,
    long Steps,
    double? Minutes,
    long Seed,
    int ValidationSections,
    int CheckpointEvery,
    int? PredictionTileSize = null)
{
    /// <summary>Augmentation of every training tile (the paper's: elastic, rotations, flips).</summary>
    public AugmentationOptions Augmentation { get; init; } = new();

    /// <summary>How the learning rate changes over the run (constant by default).</summary>
    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.Constant;

    /// <summary>The paper's weight map parameters (w0 = 10, sigma = 5 px).</summary>
    public WeightMapOptions WeightMap { get; init; } = new();

    /// <summary>Validation while training, model selection and early stopping.</summary>
    public ValidationOptions Validation { get; init; } = new();
    /// <summary>
    /// Instance masks trained as three classes (<c>--border-class</c>): background, object interior and the border
    /// between touching objects (<see cref="Data.Labels.InstanceTargets.WithBorderClass"/>), the common nuclei recipe;
    /// prediction grows seeds of confident interior over the foreground (<see cref="Data.Labels.InstanceTargets.ObjectsFromBorderProbabilities"/>,
    /// the seed threshold calibrated on validation).
    /// <see cref="UNetOptions.Classes"/> is 3. False: the paper's two classes with a background border.
    /// </summary>
    public bool BorderClass { get; init; }

    /// <summary>The classes a <see cref="BorderClass"/> model trains: background, interior and the border (the last).</summary>
    public const int BorderClassCount = Data.Labels.InstanceTargets.BorderClass + 1;

    /// <summary>
    /// With <see cref="BorderClass"/>: the border's width in pixels on each side of a contact (<c>--border-width</c>,
    /// <see cref="Data.Labels.InstanceTargets.WidenBorder"/>); 1 is the object pixels that touch another object.
    /// </summary>
    public int BorderWidth { get; init; } = 1;

    /// <summary>
    /// With <see cref="BorderClass"/>: which object pixels are border (<c>--border-kind</c>): where objects touch
    /// (the default), every object's outline, or every object but its core (<see cref="Data.Labels.BorderKind"/>).
    /// </summary>
    public Data.Labels.BorderKind BorderKind { get; init; } = Data.Labels.BorderKind.Touching;

    /// <summary>
    /// The share of training tiles, 0 to 1, placed over a pixel of their section's rarest foreground class
    /// (<c>--oversample</c>, <see cref="Data.Tiling.TileSampler.FocusPixels"/>): the border between touching objects
    /// of a three-class target, the foreground of a sparse binary mask. 0 (the default) places tiles anywhere.
    /// </summary>
    public double Oversample { get; init; }

    /// <summary>The classes' names by index when the data names them (a legend's labels); null to show indices.</summary>
    public IReadOnlyList<string>? ClassNames { get; init; }

    /// <summary>How each image's values become the network input, in training and in prediction (mean/std by default).</summary>
    public IntensityNormalisation Normalisation { get; init; } = IntensityNormalisation.MeanStd;

    /// <summary>The number format of the workers' forward and backward pass (fp32 by default).</summary>
    public Precision Precision { get; init; } = Precision.Fp32;

    /// <summary>Checks every value, throwing an <see cref="ArgumentException"/> that names the option and what is accepted.</summary>
    public TrainingOptions Validate()
    {
        // Images have at most GrayImage.MaxChannels channels, fewer than the network itself takes.
        Require(Model.InputChannels is >= 1 and <= GrayImage.MaxChannels, "--channels", Model.InputChannels, $"an integer from 1 to {GrayImage.MaxChannels}");
        try
        {
            Model.Validate();
            Optimizer.Validate();
        }
        catch (ArgumentException e) when (e.ParamName is { } name && CommandLineNames.TryGetValue(name, out var option) && e.Message.IndexOf(" = ", StringComparison.Ordinal) is >= 0 and var at)
        {
            // "Optimizer option LearningRate = -1 is invalid: ..." as the user wrote it: "--lr -1 is invalid: ...".
            var rest = e.Message[(at + 3)..];
            var paramSuffix = $" (Parameter '{name}')";
            throw new ArgumentException(option + " " + (rest.EndsWith(paramSuffix, StringComparison.Ordinal) ? rest[..^paramSuffix.Length] : rest), option, e);
        }

        TileGeometry.RequireValid(Model, TileSize, "--tile");
        if (PredictionTileSize is { } predictionTile)
        {
            TileGeometry.RequireValid(Model, predictionTile, "--prediction-tile");
        }

        Require(Enum.IsDefined(Loss), "--loss", Loss, TrainingOverrides.LossNames);
        Require(!BorderClass || Model.Classes == BorderClassCount, "--classes", Model.Classes, $"{BorderClassCount} with --border-class (background, interior, border)");
        Require(BorderWidth is >= 1 and <= Data.Labels.InstanceTargets.MaxBorderWidth, "--border-width", BorderWidth, $"an integer from 1 to {Data.Labels.InstanceTargets.MaxBorderWidth}");
        Require(BorderClass || BorderWidth == 1, "--border-width", BorderWidth, "1 without --border-class (the width of the border class)");
        Require(Enum.IsDefined(BorderKind), "--border-kind", BorderKind, TrainingOverrides.BorderKindNames);
        Require(BorderClass || BorderKind == Data.Labels.BorderKind.Touching, "--border-kind", BorderKind.ToString().ToLowerInvariant(), "touching without --border-class (the pixels of the border class)");
        Require(BorderKind != Data.Labels.BorderKind.Core || BorderWidth == 1, "--border-width", BorderWidth, "1 with --border-kind core (its border is a share of each object's size)");
        Require(Oversample is >= 0 and <= 1, "--oversample", Oversample, "a share of the tiles from 0 to 1");
        Require(ClassNames is null || ClassNames.Count == Model.Classes, "class-names", ClassNames?.Count ?? 0, $"one name per class ({Model.Classes})");
        Require(BatchSize is >= 1 and <= 256, "--batch", BatchSize, "an integer from 1 to 256");
        Require(Steps is >= 1 and <= 10_000_000, "--steps", Steps, "an integer from 1 to 10000000");
        Require(Minutes is null or (> 0 and <= 60 * 24 * 30), "--minutes", Minutes ?? 0, "a number of minutes in (0, 43200]");
        Require(ValidationSections is >= 1 and <= 1000, "--validation-sections", ValidationSections, "an integer from 1 to 1000");
        Require(CheckpointEvery is >= 1, "--checkpoint-every", CheckpointEvery, "an integer of at least 1");
        Require(Enum.IsDefined(Schedule), "--schedule", Schedule, TrainingOverrides.ScheduleNames);
        Require(Enum.IsDefined(Precision), "--precision", Precision, "fp32 or bf16");
        if (WeightMap.ClassWeights is { } weights)
        {
            var given = TrainingOverrides.FormatClassWeights(weights);
            Require(weights.Count == Model.Classes, "--class-weights", given, $"one weight per class ({Model.Classes})");
            Require(weights.All(w => w is > 0 and <= WeightMapOptions.MaxClassWeight), "--class-weights", given, $"numbers in (0, {WeightMapOptions.MaxClassWeight:0}]");
        }

        Augmentation.Validate();
        Validation.Validate();
        Normalisation.Validate();
        return this;
    }

    /// <summary>The options and spec fields the model's and optimizer's own option names are given as.</summary>
    private static readonly Dictionary<string, string> CommandLineNames = new(StringComparer.Ordinal)
    {
        [nameof(UNetOptions.BaseChannels)] = "--base-channels",
        [nameof(UNetOptions.Classes)] = "--classes",
        [nameof(UNetOptions.InputChannels)] = "--channels",
        [nameof(OptimizerOptions.LearningRate)] = "--lr",
        [nameof(OptimizerOptions.Kind)] = "--optimizer",
    };

    /// <summary>The share of the <see cref="Minutes"/> budget the schedule's progress ignores (<see cref="ScheduleProgress"/>).</summary>
    public const double BudgetSlack = 0.1;

    /// <summary>
    /// How far through its learning-rate schedule the run is, in [0, 1], after <paramref name="step"/> steps and
    /// <paramref name="trainingTime"/> of training: the share of <see cref="Steps"/> done, unless the <see cref="Minutes"/>
    /// budget will stop the run first. The budget's share counts from its first tenth on (<see cref="BudgetSlack"/>), so it
    /// leads only when the run is behind the pace that would finish its steps within the budget, and then brings the
    /// schedule to its end when the budget runs out. A run on pace follows its steps alone, so the same seed trains the
    /// same model whatever else slows the machine a little; were the budget's share counted from zero, the slow first steps
    /// alone would make it lead and every later rate depend on the machine's pace.
    /// </summary>
    public double ScheduleProgress(long step, TimeSpan trainingTime)
    {
        var bySteps = (double)step / Steps;
        if (Minutes is not { } minutes)
        {
            return Math.Clamp(bySteps, 0, 1);
        }

        var byBudget = ((trainingTime / TimeSpan.FromMinutes(minutes)) - BudgetSlack) / (1 - BudgetSlack);
        return Math.Clamp(Math.Max(bySteps, byBudget), 0, 1);
    }

    /// <summary>The learning rate at a point of the run, <paramref name="progress"/> in [0, 1] (<see cref="ScheduleProgress"/>).</summary>
    public double LearningRateAt(double progress)
    {
        var p = Math.Clamp(progress, 0, 1);
        return Schedule switch
        {
            LearningRateSchedule.Cosine => Optimizer.LearningRate * (1 + Math.Cos(Math.PI * p)) / 2,
            LearningRateSchedule.Cooldown when p > CooldownStart => Optimizer.LearningRate * (1 - p) / (1 - CooldownStart),
            _ => Optimizer.LearningRate,
        };
    }

    /// <summary>The share of the run after which <see cref="LearningRateSchedule.Cooldown"/> decays the rate: 0.8, the cooldown of a fifth of the run that Hägele et al. found to match cosine.</summary>
    public const double CooldownStart = 0.8;

    private static void Require(bool ok, string option, object value, string accepted)
    {
        if (!ok)
        {
            throw new ArgumentException($"{option} {value} is invalid: expected {accepted}.", option);
        }
    }
}
