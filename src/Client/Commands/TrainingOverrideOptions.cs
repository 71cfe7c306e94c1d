using System.CommandLine;
using System.Globalization;
using UNetCluster.Model.Training;

namespace UNetCluster.Client.Commands;

/// <summary>The options that change a preset, shared by <c>unet train</c> and <c>unet submit</c>.</summary>
internal sealed class TrainingOverrideOptions
{
    public Option<long?> Steps { get; } = new("--steps") { Description = "Optimizer steps (overrides the preset)." };

    public Option<double?> Minutes { get; } = new("--minutes") { Description = "Time budget of the training loop in minutes (overrides the preset)." };

    public Option<int?> Tile { get; } = new("--tile") { Description = "Input tile size (must be valid for the network, e.g. 572)." };

    public Option<int?> Batch { get; } = new("--batch") { Description = "Tiles per step (over all workers of a cluster job)." };

    public Option<int?> BaseChannels { get; } = new("--base-channels") { Description = "Channels of the first level (the paper: 64)." };

    public Option<double?> LearningRate { get; } = new("--lr") { Description = "Learning rate." };

    public Option<string?> Optimizer { get; } = Choices.OneOf("--optimizer", "sgd (momentum 0.99, as the paper) or adam.", TrainingOverrides.Optimizers);

    public Option<string?> Loss { get; } = Choices.OneOf(
        "--loss", "weighted-cross-entropy (the paper), soft-dice (mean over the foreground classes), or dice-cross-entropy (the two summed).", TrainingOverrides.Losses);

    public Option<int?> Classes { get; } = new("--classes") { Description = "Output classes, 2 to 256 (default 2; for --mask-kind classes, the largest index in the masks + 1). A mask index at or above it is refused." };

    // bool? so that --border-class false turns off a preset's border class (a bool option read false when absent cannot).
    public Option<bool?> BorderClass { get; } = new("--border-class") { Description = "Train instance masks as 3 classes: background, object interior and the border between touching objects; predict --instances grows the interiors into the border. --border-class false trains 2 classes where the preset (nuclei) would train 3." };

    public Option<int?> BorderWidth { get; } = new("--border-width")
    {
        Description = "With --border-class: the border's width in pixels on each side of a contact, 1 to 8 (default 1: the object pixels that touch another object; 2-3 is easier to learn).",
    };

    public Option<string?> BorderKind { get; } = Choices.OneOf(
        "--border-kind",
        "With --border-class: touching (default: the border is where objects touch), outline (every object's outline, " +
            "a class common enough to be learned; objects are then the interiors grown back over the foreground) or core (every object " +
            "but its core, the pixels at least half the object's largest distance from its edge: touching objects' cores lie apart by about their radius).",
        TrainingOverrides.BorderKinds);

    public Option<string?> ClassWeights { get; } = new("--class-weights")
    {
        Description = "Fixed cross-entropy weights by class index, one per class separated by commas (such as 1,1,100 to stress the " +
            "border class of --border-class), in place of the class balance; each in (0, 10000].",
    };

    public Option<double?> Oversample { get; } = new("--oversample")
    {
        Description = "The share of training tiles, 0 to 1, placed over a pixel of their image's rarest foreground class instead of anywhere: " +
            "the border between touching objects with --border-class, the foreground of a binary mask (default 0; nnU-Net uses 0.33 for foreground).",
    };

    public Option<string?> Schedule { get; } = Choices.OneOf(
        "--schedule",
        "How the learning rate changes over the run: constant; cosine (from --lr down to 0 by the last step, or by the end of the " +
        string.Create(CultureInfo.InvariantCulture, $"--minutes budget if that comes first); or cooldown (--lr for the first {TrainingOptions.CooldownStart:0 %} of the run, then a straight line down to 0). ") +
        "Default: the preset's (cosine for quick, quality and nuclei; constant for paper and tiny).",
        TrainingOverrides.Schedules);

    public Option<int?> ValidateEvery { get; } = new("--validate-every") { Description = "Validate on the held-out sections every N steps, and at the last step (default: the checkpoint interval)." };

    public Option<double?> ValidateMinutes { get; } = new("--validate-minutes") { Description = "Also validate when this many minutes have passed since the last validation." };

    public Option<string?> SelectBy { get; } = Choices.SelectBy(
        "The validation metric that picks the best checkpoint and calibrates its decision threshold: " +
        "pixel-error or rand-error (lowest wins), dice, iou or object-f1 (highest wins; instance masks only; its threshold is the one " +
        "nearest 0.5 within one standard error of the best); " +
        "a later validation within one standard error (over the sections) of the winner takes its place. " +
        "Default: object-f1 for instance masks, pixel-error otherwise.");

    public Option<int?> Patience { get; } = new("--patience") { Description = "Stop early after this many validations in a row without a better --select-by value (default: never)." };

    public Option<int?> Channels { get; } = new("--channels")
    {
        Description = "Input channels of the network: 1 (gray) to 4; the images must have this many (default: the data's own count).",
    };

    public Option<string?> Normalisation { get; } = Choices.Normalisation(
        "Per-image intensity normalisation, applied in training and recorded for prediction: mean-std (default) or " +
        "percentile (each channel's 1st and 99.8th percentiles to 0 and 1, not clipped; for 16-bit microscopy).");

    public Option<string?> Precision { get; } = Choices.Precision(
        "Number format of the workers' forward and backward pass: fp32 (default) or bf16 (from a bf16 copy of the weights; loss, " +
        "gradient sent, optimizer and checkpoints stay fp32).");

    public void AddTo(Command command)
    {
        ArgumentNullException.ThrowIfNull(command);
        foreach (var option in new Option[] { Steps, Minutes, Tile, Batch, BaseChannels, LearningRate, Optimizer, Loss, Classes, BorderClass, BorderWidth, BorderKind, ClassWeights, Oversample, Schedule, ValidateEvery, ValidateMinutes, SelectBy, Patience, Channels, Normalisation, Precision })
        {
            command.Options.Add(option);
        }
    }

    /// <summary>The overrides given on the command line, with the verb's own validation-section, class-balance and checkpoint values.</summary>
    public TrainingOverrides Parse(ParseResult parse, int? validationSections = null, bool? balanceClasses = null, int? checkpointEvery = null)
    {
        ArgumentNullException.ThrowIfNull(parse);
        return new TrainingOverrides(
            parse.GetValue(Steps), parse.GetValue(Minutes), parse.GetValue(Tile), parse.GetValue(Batch), parse.GetValue(BaseChannels),
            parse.GetValue(LearningRate), parse.GetValue(Optimizer), parse.GetValue(Loss), validationSections, balanceClasses, checkpointEvery,
            parse.GetValue(Classes), parse.GetValue(BorderClass))
        {
            ValidateEvery = parse.GetValue(ValidateEvery),
            ValidateMinutes = parse.GetValue(ValidateMinutes),
            SelectBy = parse.GetValue(SelectBy),
            Patience = parse.GetValue(Patience),
            Channels = parse.GetValue(Channels),
            Normalisation = parse.GetValue(Normalisation),
            BorderWidth = parse.GetValue(BorderWidth),
            BorderKind = parse.GetValue(BorderKind),
            Precision = parse.GetValue(Precision),
            Oversample = parse.GetValue(Oversample),
            Schedule = parse.GetValue(Schedule),
            ClassWeights = parse.GetValue(ClassWeights) is { } weights ? TrainingOverrides.ParseClassWeights(weights) : null,
        };
    }
}
