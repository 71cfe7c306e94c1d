using System.CommandLine;
using UNetCluster.Data.DataSets;
using UNetCluster.Data.Imaging;
using UNetCluster.Model.Metrics;
using UNetCluster.Model.Training;

namespace UNetCluster.Client.Commands;

/// <summary>
/// The options that take one of a fixed set of values, each restricted to its owner's names through the parser
/// (<c>AcceptOnlyFromAmong</c>), so that <c>--help</c> and shell completion (<c>dotnet-suggest</c>) list them and a
/// wrong value is refused before anything runs, naming the option and the values it accepts (<see cref="ParseErrors"/>).
/// </summary>
internal static class Choices
{
    /// <summary>The mask kinds as the command line spells them: auto, binary, instances, classes.</summary>
    public static IReadOnlyList<string> MaskKinds { get; } = [.. Enum.GetNames<MaskKind>().Select(n => n.ToLowerInvariant())];

    /// <summary>What <c>--device</c> completes to (it also takes any <c>cuda:N</c>).</summary>
    private static readonly string[] DeviceCompletions = ["auto", "cpu", "cuda", "cuda:0", "cuda:1"];

    public static Option<string> Preset()
    {
        var option = new Option<string>("--preset")
        {
            Description = $"Training preset: {string.Join(", ", Presets.Names.Select(n => $"{n} ({Presets.Describe(n)})"))}.",
            DefaultValueFactory = _ => Presets.Default,
        };
        option.AcceptOnlyFromAmong([.. Presets.Names]);
        return option;
    }

    /// <summary>A string option that accepts only <paramref name="values"/>.</summary>
    public static Option<string?> OneOf(string name, string description, IEnumerable<string> values)
    {
        var option = new Option<string?>(name) { Description = description };
        option.AcceptOnlyFromAmong([.. values]);
        return option;
    }

    /// <summary><c>--mask-kind</c>: auto, binary, instances or classes; read with <see cref="MaskKindOf"/>.</summary>
    public static Option<string?> MaskKind(string description) => OneOf("--mask-kind", description, MaskKinds);

    /// <summary>The mask kind a <see cref="MaskKind"/> option holds; null when not given.</summary>
    public static MaskKind? MaskKindOf(string? name) => name is null ? null : Enum.Parse<MaskKind>(name, ignoreCase: true);

    public static Option<string?> Normalisation(string description) => OneOf("--normalisation", description, IntensityNormalisation.Names);

    public static Option<string?> Precision(string description) => OneOf("--precision", description, TrainingOverrides.Precisions);

    public static Option<string?> SelectBy(string description) => OneOf("--select-by", description, ValidationMetrics.Names);

    /// <summary>
    /// <c>--device</c>: auto, cpu, cuda or cuda:N. An open set (any GPU index), so a validator rather than a list refuses
    /// other names; completion offers the common ones.
    /// </summary>
    public static Option<string?> Device(string description)
    {
        var option = new Option<string?>("--device") { Description = description, HelpName = "auto|cpu|cuda|cuda:N" };
        option.CompletionSources.Add(DeviceCompletions);
        option.Validators.Add(result =>
        {
            var value = result.Tokens.Count > 0 ? result.Tokens[^1].Value : null;
            if (value is not null && !ComputeDevice.IsName(value))
            {
                result.AddError($"--device '{value}' is unknown: expected {ComputeDevice.Accepted} (N a GPU index from 0).");
            }
        });
        return option;
    }
}
