using System.CommandLine.Parsing;
using System.Text.RegularExpressions;
using UNetCluster.Model.Training;

namespace UNetCluster.Client;

/// <summary>
/// System.CommandLine's parse errors as a user reads them: "Cannot parse argument 'abc' for option '--steps' as
/// expected type 'System.Nullable`1[System.Int64]'" becomes "--steps abc is invalid: expected an integer". Other
/// errors (an unknown option, a missing required one) already name the option and are kept; a value outside an
/// option's fixed set ("Argument 'adamw' not recognized. Must be one of: ...") becomes "--optimizer 'adamw' is unknown:
/// expected sgd or adam."
/// </summary>
internal static partial class ParseErrors
{
    public static string Describe(ParseError error)
    {
        ArgumentNullException.ThrowIfNull(error);
        var match = NotRecognized().Match(error.Message);
        var option = error.SymbolResult switch
        {
            OptionResult o => o.Option.Name,
            ArgumentResult { Parent: OptionResult o } => o.Option.Name,
            _ => null,
        };
        if (!match.Success || option is null)
        {
            return Describe(error.Message);
        }

        var accepted = match.Groups["accepted"].Captures.Select(c => c.Value).ToList();
        return $"{option} '{match.Groups["value"].Value}' is unknown: expected {TrainingOverrides.OrList(accepted)}.";
    }

    public static string Describe(string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var match = CannotParse().Match(message);
        if (!match.Success)
        {
            return message;
        }

        var type = match.Groups["type"].Value;
        var accepted = type.Contains("Int", StringComparison.Ordinal) ? "an integer"
            : type.Contains("Double", StringComparison.Ordinal) || type.Contains("Single", StringComparison.Ordinal) ? "a number such as 2.5"
            : type.Contains("Boolean", StringComparison.Ordinal) ? "true or false (or the option alone)"
            : type.Contains("Info", StringComparison.Ordinal) ? "a path"
            : "another value";
        var where = match.Groups["option"].Success ? match.Groups["option"].Value : match.Groups["command"].Value;
        return $"{where} {match.Groups["value"].Value} is invalid: expected {accepted}.";
    }

    [GeneratedRegex(@"^Argument '(?<value>.*)' not recognized\. Must be one of:(?:\s*'(?<accepted>[^']*)')+\s*$", RegexOptions.Singleline)]
    private static partial Regex NotRecognized();

    [GeneratedRegex("^Cannot parse argument '(?<value>.*)' for (?:option '(?<option>[^']*)'|command '(?<command>[^']*)') as expected type '(?<type>[^']*)'")]
    private static partial Regex CannotParse();
}
