using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using UNetCluster.Client.Commands;
using UNetCluster.Client.Output;
using UNetCluster.Contracts.Jobs;

namespace UNetCluster.Client.Cluster;

/// <summary>
/// The cluster verbs over a silo's REST API (<c>--api URL</c>), for a machine outside the cluster: <c>POST /api/jobs</c>
/// and <c>/api/predictions</c>, <c>GET /api/jobs[/{id}[/history]]</c>, <c>POST /api/jobs/{id}/cancel</c>, <c>GET /api/cluster</c>.
/// The bearer token (UNET_API_TOKEN) is sent only with the requests that need it and is never written anywhere.
/// </summary>
internal sealed class RestJobClient : IJobClient
{
    /// <summary>The environment variable the bearer token is read from (never a command-line option: it would be in the shell history and the process list).</summary>
    public const string TokenVariable = "UNET_API_TOKEN";

    /// <summary>A request body's spec: its given fields only (the API refuses what it does not read, such as <c>kind</c>).</summary>
    private static readonly JsonSerializerOptions BodyOptions = new(CliJson.Options) { WriteIndented = false, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    private readonly HttpClient _http;
    private readonly Uri _api;
    private readonly string? _token;

    public RestJobClient(Uri api, string? token, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(api);
        _api = api;
        _token = string.IsNullOrWhiteSpace(token) ? null : token.Trim();
        var baseAddress = api.AbsoluteUri.EndsWith('/') ? api : new Uri(api.AbsoluteUri + "/");
        _http = new HttpClient { BaseAddress = baseAddress, Timeout = timeout ?? TimeSpan.FromSeconds(60) };
    }

    /// <summary>
    /// The API's address from <c>--api</c>: an absolute http:// or https:// URL without credentials, query or fragment
    /// (a path is kept, for an API behind a proxy's prefix). Anything else is refused naming the option.
    /// </summary>
    public static Uri ParseAddress(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps) || uri.Host.Length == 0)
        {
            throw new UserInputException($"--api '{text}' is invalid: expected the http:// or https:// URL a silo serves its REST API on, such as http://127.0.0.1:8080.");
        }

        if (uri.UserInfo.Length > 0)
        {
            throw new UserInputException($"--api: the URL holds credentials; give the URL without them and the bearer token in {TokenVariable}.");
        }

        if (uri.Query.Length > 0 || uri.Fragment.Length > 0)
        {
            throw new UserInputException($"--api '{text}' is invalid: expected a URL without a query or fragment, such as http://127.0.0.1:8080.");
        }

        return uri;
    }

    public string Describe() => $"the API at {_api.AbsoluteUri.TrimEnd('/')}";

    public async Task<SubmitResult> SubmitAsync(JobSpec spec, string? jobId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(spec);
        JsonObject body;
        string path;
        if (spec.Prediction is { } prediction)
        {
            body = JsonSerializer.SerializeToNode(prediction, BodyOptions)!.AsObject();
            body.Remove("checkpointSha256");   // set by the cluster, refused in a body
            path = "api/predictions";
        }
        else
        {
            body = JsonSerializer.SerializeToNode(spec, BodyOptions)!.AsObject();
            body.Remove("kind");   // computed from the spec
            path = "api/jobs";
        }

        if (jobId is not null)
        {
            body["id"] = jobId;
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body, options: BodyOptions) };
        using var response = await SendAsync(request, "submit a job", cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.BadRequest)
        {
            return new SubmitResult(null, await ErrorsAsync(response, cancellationToken).ConfigureAwait(false));
        }

        await RequireSuccessAsync(response, request, cancellationToken).ConfigureAwait(false);
        var status = await ReadAsync<JobStatus>(response, cancellationToken).ConfigureAwait(false);
        return new SubmitResult(status.Id, []);
    }

    public async Task<JobStatus> GetStatusAsync(string jobId, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, JobPath(jobId));
        using var response = await SendAsync(request, null, cancellationToken).ConfigureAwait(false);
        RequireKnown(response, jobId);
        await RequireSuccessAsync(response, request, cancellationToken).ConfigureAwait(false);
        return await ReadAsync<JobStatus>(response, cancellationToken).ConfigureAwait(false);
    }

    public async Task<JobHistory> GetHistoryAsync(string jobId, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, JobPath(jobId) + "/history");
        using var response = await SendAsync(request, null, cancellationToken).ConfigureAwait(false);
        RequireKnown(response, jobId);
        await RequireSuccessAsync(response, request, cancellationToken).ConfigureAwait(false);
        return await ReadAsync<JobHistory>(response, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<JobStatus>> ListAsync(CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "api/jobs");
        using var response = await SendAsync(request, null, cancellationToken).ConfigureAwait(false);
        await RequireSuccessAsync(response, request, cancellationToken).ConfigureAwait(false);
        return await ReadAsync<List<JobStatus>>(response, cancellationToken).ConfigureAwait(false);
    }

    public async Task<JobStatus> CancelAsync(string jobId, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, JobPath(jobId) + "/cancel");
        using var response = await SendAsync(request, "cancel a job", cancellationToken).ConfigureAwait(false);
        RequireKnown(response, jobId);
        await RequireSuccessAsync(response, request, cancellationToken).ConfigureAwait(false);
        return await ReadAsync<JobStatus>(response, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<SiloView>> ListSilosAsync(CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "api/cluster");
        using var response = await SendAsync(request, null, cancellationToken).ConfigureAwait(false);
        await RequireSuccessAsync(response, request, cancellationToken).ConfigureAwait(false);
        var cluster = await ReadAsync<ClusterDocument>(response, cancellationToken).ConfigureAwait(false);
        return [.. cluster.Members.Select(m => new SiloView(m.Address, m.Status.ToLowerInvariant())).OrderBy(s => s.Address, StringComparer.Ordinal)];
    }

    public ValueTask DisposeAsync()
    {
        _http.Dispose();
        return ValueTask.CompletedTask;
    }

    private static string JobPath(string jobId) => "api/jobs/" + Uri.EscapeDataString(jobId);

    /// <summary>
    /// Sends a request; <paramref name="authorised"/> (what the token is for) adds the bearer token. A silo that does not
    /// answer is a <see cref="ClusterUnreachableException"/>; a refused token a <see cref="UserInputException"/> that
    /// says where the token comes from, never what it is.
    /// </summary>
    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, string? authorised, CancellationToken cancellationToken)
    {
        if (authorised is not null)
        {
            if (_token is null)
            {
                throw new UserInputException($"To {authorised} over {Describe()}, set {TokenVariable} to the silo's bearer token (its UNetCluster:Http:Token).");
            }

            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
        }

        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new ClusterUnreachableException($"Cannot reach {Describe()}: {e.Message.TrimEnd('.')}. Check --api (or UNET_API) and that a silo serves HTTP there (UNetCluster:Http:Urls).", e);
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ClusterUnreachableException($"Cannot reach {Describe()}: no answer in {_http.Timeout.TotalSeconds:0} s.", e);
        }

        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            using (response)
            {
                var errors = string.Join(" ", await ErrorsAsync(response, cancellationToken).ConfigureAwait(false));
                throw new UserInputException(response.StatusCode == HttpStatusCode.Forbidden
                    ? $"{Describe()} refused the bearer token in {TokenVariable} ({(int)response.StatusCode}: {errors}): set it to the silo's token (UNetCluster:Http:Token)."
                    : $"{Describe()} wants a bearer token ({(int)response.StatusCode}: {errors}): set {TokenVariable} to the silo's token (UNetCluster:Http:Token).");
            }
        }

        return response;
    }

    private static void RequireKnown(HttpResponseMessage response, string jobId)
    {
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            response.Dispose();
            throw new UserInputException($"job '{jobId}' is unknown: 'unet list' shows the cluster's jobs.");
        }
    }

    private async Task RequireSuccessAsync(HttpResponseMessage response, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (!response.IsSuccessStatusCode)
        {
            var errors = string.Join(" ", await ErrorsAsync(response, cancellationToken).ConfigureAwait(false));
            throw new ClusterRequestException($"{Describe()} answered {(int)response.StatusCode} ({response.ReasonPhrase}) to {request.Method} /{request.RequestUri}: {errors}");
        }
    }

    private async Task<T> ReadAsync<T>(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            return await response.Content.ReadFromJsonAsync<T>(CliJson.Options, cancellationToken).ConfigureAwait(false)
                ?? throw new JsonException("the body is null");
        }
        catch (JsonException e)
        {
            throw new ClusterRequestException($"{Describe()} answered with a body that is not the API's JSON ({e.Message}): is --api the URL of a silo's REST API?", e);
        }
    }

    /// <summary>The problems of an error answer: its problem details' <c>errors</c>, else its <c>detail</c>, else its status.</summary>
    private static async Task<IReadOnlyList<string>> ErrorsAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (JsonNode.Parse(text) is JsonObject problem)
            {
                if (problem["errors"] is JsonArray errors && errors.Count > 0)
                {
                    return [.. errors.Select(e => e?.ToString() ?? string.Empty)];
                }

                if (problem["detail"]?.ToString() is { Length: > 0 } detail)
                {
                    return [detail];
                }
            }
        }
        catch (JsonException)
        {
        }

        return [$"{(int)response.StatusCode} {response.ReasonPhrase}"];
    }

    private sealed record ClusterDocument(IReadOnlyList<MemberDocument> Members);

    private sealed record MemberDocument(string Address, string Status);
}
