using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace UNetCluster.Client.Output;

/// <summary>
/// The one JSON shape of every <c>--json</c> output: camelCase names and enum values, as the silo's REST API writes the
/// same records (<c>GET /api/jobs/{id}</c> and <c>unet status --json</c> print the same document), indented.
/// </summary>
internal static class CliJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        // NaN and infinities (a diverged loss) as the API writes them, "NaN", rather than failing the command.
        NumberHandling = JsonNumberHandling.AllowReadingFromString | JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    /// <summary>The <c>--json</c> option of a verb that shows or lists <paramref name="what"/>.</summary>
    public static Option<bool> Option(string what) => new("--json") { Description = $"Print {what} as JSON (camelCase, as the REST API writes it) instead of text." };

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);

    public static Task WriteAsync<T>(TextWriter output, T value)
    {
        ArgumentNullException.ThrowIfNull(output);
        return output.WriteLineAsync(Serialize(value));
    }
}
