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

    private static readonly Dictionary<string, PropertyInfo> Fields = FieldsOf(typeof(JobSpec));

    private static readonly Dictionary<string, PropertyInfo> PredictionFields = FieldsOf(typeof(PredictionSpec));

    public static string AcceptedFields => string.Join(", ", Fields.Keys.Prepend("id"));

    /// <summary>The fields of <c>POST /api/predictions</c>.</summary>
    public static string AcceptedPredictionFields => string.Join(", ", PredictionFields.Keys.Prepend("id"));

    /// <summary>
    /// A spec's fields a body may set: its settable scalar properties (a training spec's <c>prediction</c> is set by
    /// <c>POST /api/predictions</c>, a prediction's <c>checkpointSha256</c> by the cluster).
    /// </summary>
    private static Dictionary<string, PropertyInfo> FieldsOf(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite && p.PropertyType != typeof(PredictionSpec) && p.Name != nameof(PredictionSpec.CheckpointSha256))
            .ToDictionary(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name), StringComparer.OrdinalIgnoreCase);

    /// <summary>The largest body read: a job spec is a few hundred bytes; anything near this is not one.</summary>
    public const int MaxBodyBytes = 64 * 1024;

    /// <summary>
    /// The spec and id, or the errors that make the body unreadable with the status to answer: 400, or 413 for a body
    /// over <see cref="MaxBodyBytes"/>.
    /// </summary>
    public static Task<(JobSpec? Spec, string? Id, IReadOnlyList<string> Errors, int Status)> ReadAsync(Stream body, CancellationToken cancellationToken) =>
        ReadBodyAsync<JobSpec>(body, Fields, "job spec fields such as {\"preset\": \"tiny\", \"steps\": 50}", spec => spec, cancellationToken);

    /// <summary>
    /// The body of <c>POST /api/predictions</c>: a prediction spec's fields in camelCase (as <see cref="PredictionSpec"/>)
    /// and an optional <c>id</c>, read and refused as <see cref="ReadAsync"/> does; the spec comes back as a prediction
    /// job's <see cref="JobSpec"/>.
    /// </summary>
    public static Task<(JobSpec? Spec, string? Id, IReadOnlyList<string> Errors, int Status)> ReadPredictionAsync(Stream body, CancellationToken cancellationToken) =>
        ReadBodyAsync<PredictionSpec>(body, PredictionFields, "prediction spec fields such as {\"fromJob\": \"job-1\", \"dataSet\": \"volume\"}",
            prediction => new JobSpec { Prediction = prediction }, cancellationToken);

    private static async Task<(JobSpec? Spec, string? Id, IReadOnlyList<string> Errors, int Status)> ReadBodyAsync<T>(
        Stream body, Dictionary<string, PropertyInfo> accepted, string example, Func<T, JobSpec> job, CancellationToken cancellationToken)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(body);
        var bytes = await ReadLimitedAsync(body, cancellationToken).ConfigureAwait(false);
        if (bytes is null)
        {
            return (null, null, [TooLarge], StatusCodes.Status413PayloadTooLarge);
        }

        var (spec, id, errors) = Read<T>(bytes, accepted, example);
        return (spec is null ? null : job(spec), id, errors, StatusCodes.Status400BadRequest);
    }

    /// <summary>
    /// The body in the OpenAPI document: the job spec's schema and the optional <c>id</c>. Declared here rather than as
    /// accepted metadata on the endpoint, which would make routing refuse a body sent without a JSON content type
    /// (curl's <c>-d</c>), which the reader has always read.
    /// </summary>
    public static Task DescribeBodyAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken) =>
        DescribeBodyAsync(operation, context, typeof(JobSpec), Fields, cancellationToken);

    /// <summary>The body of <c>POST /api/predictions</c> for the OpenAPI document: the prediction spec's fields the reader accepts, and <c>id</c>.</summary>
    public static Task DescribePredictionBodyAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken) =>
        DescribeBodyAsync(operation, context, typeof(PredictionSpec), PredictionFields, cancellationToken);

    /// <summary>
    /// A body's schema: the fields of <paramref name="type"/>'s schema that the reader accepts (<paramref name="accepted"/>;
    /// not a training spec's <c>prediction</c> or <c>kind</c>, which responses carry), and <c>id</c>.
    /// </summary>
    private static async Task DescribeBodyAsync(
        OpenApiOperation operation, OpenApiOperationTransformerContext context, Type type, Dictionary<string, PropertyInfo> accepted, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(operation);
        ArgumentNullException.ThrowIfNull(context);
        var spec = await context.GetOrCreateSchemaAsync(type, null, cancellationToken).ConfigureAwait(false);
        var fields = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Properties = (spec.Properties ?? new Dictionary<string, IOpenApiSchema>())
                .Where(p => accepted.ContainsKey(p.Key))
                .ToDictionary(p => p.Key, p => p.Value),
        };
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
            Description = $"A JSON object of at most {MaxBodyBytes} bytes; each field at most once (names ignore case); null means the default.",
            Content = new Dictionary<string, OpenApiMediaType> { ["application/json"] = new() { Schema = new OpenApiSchema { AllOf = [fields, id] } } },
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

    private static (T? Spec, string? Id, IReadOnlyList<string> Errors) Read<T>(byte[] body, Dictionary<string, PropertyInfo> accepted, string example)
        where T : class
    {
        JsonObject fields;
        try
        {
            // JsonDocument keeps every property as written, so a field given twice is found and refused below; the
            // JsonObject made from it afterwards would throw on a duplicate, and the serializer would keep the last one.
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return (null, null, [$"the body must be a JSON object of {example}."]);
            }

            if (DuplicateKeys(document.RootElement) is { Count: > 0 } duplicates)
            {
                return (null, null, duplicates);
            }

            fields = JsonObject.Create(document.RootElement.Clone())!;
        }
        catch (JsonException e)
        {
            return (null, null, [$"the body is not valid JSON ({e.Message}); expected an object of {example}."]);
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
            else if (!accepted.TryGetValue(name, out var property))
            {
                errors.Add($"{name}: unknown field; the accepted fields are {string.Join(", ", accepted.Keys.Prepend("id"))}.");
            }
            else if (!Fits(value, property.PropertyType))
            {
                errors.Add($"{accepted.First(f => f.Value == property).Key}: expected {Describe(property.PropertyType)}, got {value?.ToJsonString() ?? "null"}.");
            }
        }

        if (errors.Count > 0)
        {
            return (null, id, errors);
        }

        try
        {
            var spec = fields.Deserialize<T>(Options);
            return spec is null ? (null, id, [$"the body must be a JSON object of {example}."]) : (spec, id, []);
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
