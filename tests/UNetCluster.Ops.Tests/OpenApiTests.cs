using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Routing;
using UNetCluster.Silo.Hosting;

namespace UNetCluster.Ops.Tests;

/// <summary>The OpenAPI document a real silo serves, checked against the endpoints the silo's application maps.</summary>
[Collection(SiloTests.Name)]
[Trait("Category", "Api")]
public sealed class OpenApiTests(SiloFixture silo)
{
    [Fact]
    public async Task GetOpenApi_WithoutToken_DescribesEveryApiEndpointAndNothingElse()
    {
        using var response = await silo.Http.GetAsync("openapi/v1.json", Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);   // public: no token asked
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var document = await response.Content.ReadFromJsonAsync<JsonElement>(Ct);
        var described = document.GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject().Select(operation => $"{operation.Name.ToUpperInvariant()} {path.Name}"))
            .Order(StringComparer.Ordinal).ToList();

        var mapped = ApiEndpoints();
        Assert.NotEmpty(mapped);
        Assert.Contains("POST /api/jobs", mapped);
        Assert.Equal(mapped, described);
    }

    [Fact]
    public async Task GetOpenApi_SubmitEndpoint_DescribesTheJobSpecFieldsTheReaderAccepts()
    {
        var document = await silo.Http.GetFromJsonAsync<JsonElement>("openapi/v1.json", Ct);
        var body = document.GetProperty("paths").GetProperty("/api/jobs").GetProperty("post").GetProperty("requestBody");
        var schema = body.GetProperty("content").GetProperty("application/json").GetProperty("schema");
        var fields = schema.GetProperty("allOf").EnumerateArray().SelectMany(Properties).Order(StringComparer.Ordinal).ToList();
        var accepted = Silo.Api.JobSpecReader.AcceptedFields.Split(", ").Order(StringComparer.Ordinal).ToList();
        Assert.Equal(accepted, fields);

        var predictionBody = document.GetProperty("paths").GetProperty("/api/predictions").GetProperty("post").GetProperty("requestBody")
            .GetProperty("content").GetProperty("application/json").GetProperty("schema");
        Assert.Equal(
            Silo.Api.JobSpecReader.AcceptedPredictionFields.Split(", ").Order(StringComparer.Ordinal),
            predictionBody.GetProperty("allOf").EnumerateArray().SelectMany(Properties).Order(StringComparer.Ordinal));

        var spec = document.GetProperty("components").GetProperty("schemas").GetProperty("JobSpec").GetProperty("properties");
        Assert.Equal("string", spec.GetProperty("preset").GetProperty("type").GetString());
        Assert.Contains("integer", spec.GetProperty("steps").GetProperty("type").ToString(), StringComparison.Ordinal);
        var problems = document.GetProperty("paths").GetProperty("/api/jobs/{id}").GetProperty("get").GetProperty("responses").GetProperty("404");
        Assert.True(problems.GetProperty("content").TryGetProperty("application/problem+json", out _));

        IEnumerable<string> Properties(JsonElement part) =>
            part.TryGetProperty("$ref", out var reference)
                ? Properties(document.GetProperty("components").GetProperty("schemas").GetProperty(reference.GetString()!.Split('/')[^1]))
                : part.GetProperty("properties").EnumerateObject().Select(p => p.Name);
    }

    [Fact]
    public async Task GetOpenApi_StateChangingOperations_AreTheOnesThatNeedTheBearerToken()
    {
        var document = await silo.Http.GetFromJsonAsync<JsonElement>("openapi/v1.json", Ct);
        var scheme = document.GetProperty("components").GetProperty("securitySchemes").GetProperty("bearer");
        Assert.Equal("http", scheme.GetProperty("type").GetString());
        Assert.Equal("bearer", scheme.GetProperty("scheme").GetString());

        var secured = document.GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject().Where(o => o.Value.TryGetProperty("security", out var s) && s.ToString().Contains("bearer", StringComparison.Ordinal))
                .Select(o => $"{o.Name.ToUpperInvariant()} {path.Name}"))
            .Order(StringComparer.Ordinal);
        var changing = ApiEndpoints().Where(e => !e.StartsWith("GET ", StringComparison.Ordinal));   // what the API's token rule covers
        Assert.Equal(changing, secured);
    }

    /// <summary>"METHOD /path" of every endpoint under /api that the silo's application maps, built as Program.cs builds it (not started).</summary>
    private static List<string> ApiEndpoints()
    {
        var app = SiloApplication.Build(["--UNetCluster:Http:Urls=http://127.0.0.1:1", $"--UNetCluster:Storage:Root={Path.GetTempPath()}"]);
        try
        {
            return ((IEndpointRouteBuilder)app).DataSources.SelectMany(source => source.Endpoints).OfType<RouteEndpoint>()
                .Where(e => e.RoutePattern.RawText?.StartsWith("/api/", StringComparison.Ordinal) == true)
                .SelectMany(e => e.Metadata.GetMetadata<HttpMethodMetadata>()!.HttpMethods.Select(m => $"{m} {e.RoutePattern.RawText}"))
                .Order(StringComparer.Ordinal).ToList();
        }
        finally
        {
            ((IDisposable)app).Dispose();
        }
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;
}
