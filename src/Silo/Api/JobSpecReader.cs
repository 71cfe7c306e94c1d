using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
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

    /// <summary>The largest body read: a job spec is a few hundred bytes; anything near this is not one.</summary>
    public const int MaxBodyBytes = 64 * 1024;

    /// <summary>
    /// The spec and id, or the errors that make the body unreadable with the status to answer: 400, or 413 for a body
    /// over <see cref="MaxBodyBytes"/>.
    /// </summary>
    public static async Task<(JobSpec? Spec, string? Id, IReadOnlyList<string> Errors, int Status)> ReadAsync(Stream body, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(body);
        var bytes = await ReadLimitedAsync(body, cancellationToken).ConfigureAwait(false);
        if (bytes is null)
        {
            return (null, null, [TooLarge], StatusCodes.Status413PayloadTooLarge);
        }

        var (spec, id, errors) = Read(bytes);
        return (spec, id, errors, StatusCodes.Status400BadRequest);
    }

    /// <summary>
    /// The body in the OpenAPI document: the job spec's schema and the optional <c>id</c>. Declared here rather than as
    /// accepted metadata on the endpoint, which would make routing refuse a body sent without a JSON content type
    /// (curl's <c>-d</c>), which the reader has always read.
    /// </summary>
    public static async Task DescribeBodyAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(operation);
        ArgumentNullException.ThrowIfNull(context);
        var spec = await context.GetOrCreateSchemaAsync(typeof(JobSpec), null, cancellationToken).ConfigureAwait(false);
        var id = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Properties = new Dictionary<string, IOpenApiSchema>
            {
                ["id"] = new OpenApiSchema { Type = JsonSchemaType.String | JsonSchemaType.Null, Description = "The job's id; unset, the cluster makes one up." },
            },
        };
        operation.RequestBody = new OpenApiRequestBody
        {
            Required = true,
            Description = $"A JSON object of at most {MaxBodyBytes} bytes; each field at most once (names ignore case); null means the preset's value.",
            Content = new Dictionary<string, OpenApiMediaType> { ["application/json"] = new() { Schema = new OpenApiSchema { AllOf = [spec, id] } } },
        };
    }

    /// <summary>The error of a body over <see cref="MaxBodyBytes"/>.</summary>
    public static string TooLarge =>
        $"the body is larger than {MaxBodyBytes} bytes; expected a job spec, a small JSON object such as {{\"preset\": \"tiny\", \"steps\": 50}}.";

    private static async Task<byte[]?> ReadLimitedAsync(Stream body, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await body.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > MaxBodyBytes)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    private static (JobSpec? Spec, string? Id, IReadOnlyList<string> Errors) Read(byte[] body)
    {
        JsonObject fields;
        try
        {
            // JsonDocument keeps every property as written, so a field given twice is found and refused below; the
            // JsonObject made from it afterwards would throw on a duplicate, and the serializer would keep the last one.
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return (null, null, ["the body must be a JSON object of job spec fields such as {\"preset\": \"tiny\", \"steps\": 50}."]);
            }

            if (DuplicateKeys(document.RootElement) is { Count: > 0 } duplicates)
            {
                return (null, null, duplicates);
            }

            fields = JsonObject.Create(document.RootElement.Clone())!;
        }
        catch (JsonException e)
        {
            return (null, null, [$"the body is not valid JSON ({e.Message}); expected an object such as {{\"preset\": \"tiny\", \"steps\": 50}}."]);
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

    /// <summary>
    /// A field given twice, or twice in different case ("id" and "ID"), is refused: field names are matched ignoring
    /// case, so either way one of the values would silently win.
    /// </summary>
    private static List<string> DuplicateKeys(JsonElement root)
    {
        var errors = new List<string>();
        var first = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var property in root.EnumerateObject())
        {
            if (!first.TryAdd(property.Name, property.Name))
            {
                var earlier = first[property.Name];
                errors.Add(earlier == property.Name
                    ? $"{property.Name}: given more than once; give each field once."
                    : $"{property.Name}: the same field as '{earlier}' (field names ignore case); give each field once.");
            }
        }

        return errors;
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
