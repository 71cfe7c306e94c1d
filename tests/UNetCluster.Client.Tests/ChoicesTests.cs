using System.CommandLine;
using UNetCluster.Client.Commands;
using UNetCluster.Data.Imaging;
using UNetCluster.Model.Metrics;
using UNetCluster.Model.Training;

namespace UNetCluster.Client.Tests;

/// <summary>
/// Options with a fixed set of values: <c>--help</c> and shell completion list the values, every value the option's
/// owner reads is accepted, and anything else is refused by the parser (BadArgumentCorpusTests holds the refusals).
/// </summary>
public sealed class ChoicesTests
{
    public static TheoryData<string, string> HelpLines => new()
    {
        { "train", "--preset <nuclei|paper|quality|quick|tiny>" },
        { "train", "--optimizer <adam|sgd>" },
        { "train", "--schedule <constant|cooldown|cosine>" },
        { "train", "--loss <dice-cross-entropy|soft-dice|weighted-cross-entropy>" },
        { "train", "--border-kind <core|outline|touching>" },
        { "train", "--select-by <dice|iou|object-f1|pixel-error|rand-error>" },
        { "train", "--normalisation <mean-std|percentile>" },
        { "train", "--precision <bf16|fp32>" },
        { "train", "--mask-kind <auto|binary|classes|instances>" },
        { "train", "--device <auto|cpu|cuda|cuda:N>" },
        { "submit", "--preset <nuclei|paper|quality|quick|tiny>" },
        { "submit", "--optimizer <adam|sgd>" },
        { "submit", "--schedule <constant|cooldown|cosine>" },
        { "predict", "--precision <bf16|fp32>" },
        { "predict", "--device <auto|cpu|cuda|cuda:N>" },
        { "evaluate", "--mask-kind <auto|binary|classes|instances>" },
        { "dataset upload", "--mask-kind <auto|binary|classes|instances>" },
    };

    [Theory]
    [MemberData(nameof(HelpLines))]
    public async Task Help_OptionWithFixedValues_ListsThem(string verb, string expected)
    {
        var (code, output, _) = await CliRunner.RunAsync([.. verb.Split(' '), "--help"]);

        Assert.Equal(0, code);
        Assert.Contains(output.Split('\n'), l => l.TrimStart().StartsWith(expected + " ", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("train --optimizer ", new[] { "adam", "sgd" })]
    [InlineData("submit --loss ", new[] { "dice-cross-entropy", "soft-dice", "weighted-cross-entropy" })]
    [InlineData("evaluate --mask-kind ", new[] { "auto", "binary", "classes", "instances" })]
    [InlineData("predict --device ", new[] { "auto", "cpu", "cuda", "cuda:0", "cuda:1" })]
    public void Completion_OptionWithFixedValues_OffersThem(string commandLine, string[] expected)
    {
        var root = Cli.Create(TextWriter.Null, TextWriter.Null);

        var completions = root.Parse(commandLine).GetCompletions(commandLine.Length).Select(c => c.Label).Order(StringComparer.Ordinal);

        Assert.Equal(expected, completions);
    }

    public static TheoryData<string, string> OwnersValues()
    {
        var data = new TheoryData<string, string>();
        foreach (var (option, values) in new (string, IEnumerable<string>)[]
        {
            ("--preset", Presets.Names), ("--optimizer", TrainingOverrides.Optimizers), ("--schedule", TrainingOverrides.Schedules), ("--loss", TrainingOverrides.Losses),
            ("--border-kind", TrainingOverrides.BorderKinds), ("--precision", TrainingOverrides.Precisions), ("--select-by", ValidationMetrics.Names),
            ("--normalisation", IntensityNormalisation.Names), ("--mask-kind", Choices.MaskKinds), ("--device", ["auto", "cpu", "cuda", "cuda:3"]),
        })
        {
            foreach (var value in values)
            {
                data.Add(option, value);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(OwnersValues))]
    public void Parse_EveryValueTheOwnerReads_IsAcceptedByTheParserAndTheOwner(string option, string value)
    {
        var parse = Cli.Create(TextWriter.Null, TextWriter.Null).Parse(["train", option, value]);

        Assert.Empty(parse.Errors);
        var tiny = Presets.Get("tiny");
        switch (option)
        {
            case "--optimizer": new TrainingOverrides(Optimizer: value).ApplyTo(tiny); break;
            case "--loss": new TrainingOverrides(Loss: value).ApplyTo(tiny); break;
            case "--schedule": new TrainingOverrides { Schedule = value }.ApplyTo(tiny); break;
            case "--border-kind": TrainingOverrides.ParseBorderKind(value); break;
            case "--precision": TrainingOverrides.ParsePrecision(value); break;
            case "--select-by": ValidationMetrics.Parse(value); break;
            case "--normalisation": IntensityNormalisation.Parse(value); break;
            case "--mask-kind": Assert.NotNull(Choices.MaskKindOf(value)); break;
            case "--device": Assert.True(ComputeDevice.IsName(value)); break;
            default: Presets.Get(value); break;
        }
    }
}
