using System.CommandLine;
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

    public Option<string?> Optimizer { get; } = new("--optimizer") { Description = "sgd (momentum 0.99, as the paper) or adam." };

    public Option<string?> Loss { get; } = new("--loss") { Description = "weighted-cross-entropy (the paper) or soft-dice." };

    public Option<string?> Precision { get; } = new("--precision")
    {
        Description = "Number format of the workers' forward and backward pass: fp32 (default) or bf16 (from a bf16 copy of the weights; loss, " +
            "gradient sent, optimizer and checkpoints stay fp32).",
    };

    public void AddTo(Command command)
    {
        ArgumentNullException.ThrowIfNull(command);
        foreach (var option in new Option[] { Steps, Minutes, Tile, Batch, BaseChannels, LearningRate, Optimizer, Loss, Precision })
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
            parse.GetValue(LearningRate), parse.GetValue(Optimizer), parse.GetValue(Loss), validationSections, balanceClasses, checkpointEvery)
        {
            Precision = parse.GetValue(Precision),
        };
    }
}
