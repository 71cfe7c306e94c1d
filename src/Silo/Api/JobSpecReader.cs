using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using UNetCluster.Contracts.Jobs;

namespace UNetCluster.Silo.Api;

/// <summary>
/// Reads the body of <c>POST /api/jobs</c>: a JSON object with the job spec's fields in camelCase (as
/// <see cref="JobSpec"/>) and an optional <c>id</c>. A body it cannot read is refused with errors that name the field
/// and say what it accepts; the cluster then validates the spec as it does for the CLI.
/// </summary>
public static class JobSpecReader
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        NumberHandling = JsonNumberHandling.Strict,
    };

    private static readonly Dictionary<string, PropertyInfo> Fields = typeof(JobSpec).GetProperties(BindingFlags.Public | BindingFlags.Instance)
        .ToDictionary(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name), StringComparer.OrdinalIgnoreCase);

    public static string AcceptedFields => string.Join(", ", Fields.Keys.Prepend("id"));

    /// <summary>The spec and id, or the errors that make the body unreadable.</summary>
    public static async Task<(JobSpec? Spec, string? Id, IReadOnlyList<string> Errors)> ReadAsync(Stream body, CancellationToken cancellationToken)
    {
        JsonNode? node;
        try
        {
            node = await JsonNode.ParseAsync(body, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException e)
        {
            return (null, null, [$"the body is not valid JSON ({e.Message}); expected an object such as {{\"preset\": \"tiny\", \"steps\": 50}}."]);
        }

        if (node is not JsonObject fields)
        {
            return (null, null, ["the body must be a JSON object of job spec fields such as {\"preset\": \"tiny\", \"steps\": 50}."]);
        }

        var errors = new List<string>();
        string? id = null;
        foreach (var (name, value) in fields.ToList())
        {
            if (name.Equals("id", StringComparison.OrdinalIgnoreCase))
            {
                if (value is JsonValue v && v.TryGetValue<string>(out var text))
                {
                    id = text;
                }
                else if (value is not null)
                {
                    errors.Add("id: expected a string (the job id) or null.");
                }

                fields.Remove(name);
            }
            else if (!Fields.TryGetValue(name, out var property))
            {
                errors.Add($"{name}: unknown field; the accepted fields are {AcceptedFields}.");
            }
            else if (!Fits(value, property.PropertyType))
            {
                errors.Add($"{Fields.First(f => f.Value == property).Key}: expected {Describe(property.PropertyType)}, got {value?.ToJsonString() ?? "null"}.");
            }
        }

        if (errors.Count > 0)
        {
            return (null, id, errors);
        }

        try
        {
            var spec = fields.Deserialize<JobSpec>(Options);
            return spec is null ? (null, id, ["the body must be a JSON object of job spec fields."]) : (spec, id, []);
        }
        catch (JsonException e)
        {
            // Fits() covers the types; this is what it missed (a value out of the type's range, say).
            var field = e.Path is { Length: > 2 } path ? path[2..] : "body";
            return (null, id, [$"{field}: {e.Message}"]);
        }
    }

    private static bool Fits(JsonNode? value, Type type)
    {
        var underlying = Nullable.GetUnderlyingType(type);
        if (value is null)
        {
            return underlying is not null;   // null means "the preset's value" for the optional fields only
        }

        if (value is not JsonValue scalar)
        {
            return false;
        }

        var target = underlying ?? type;
        var kind = scalar.GetValueKind();
        return target == typeof(string) ? kind == JsonValueKind.String
            : target == typeof(bool) ? kind is JsonValueKind.True or JsonValueKind.False
            : target == typeof(int) ? kind == JsonValueKind.Number && scalar.TryGetValue<int>(out _)
            : target == typeof(long) ? kind == JsonValueKind.Number && scalar.TryGetValue<long>(out _)
            : target == typeof(double) ? kind == JsonValueKind.Number
            : kind != JsonValueKind.Undefined;
    }

    private static string Describe(Type type)
    {
        var underlying = Nullable.GetUnderlyingType(type);
        var target = underlying ?? type;
        var text = target == typeof(string) ? "a string"
            : target == typeof(bool) ? "true or false"
            : target == typeof(int) || target == typeof(long) ? "an integer"
            : target == typeof(double) ? "a number"
            : target.Name;
        return underlying is null ? text : text + " or null";
    }
}
