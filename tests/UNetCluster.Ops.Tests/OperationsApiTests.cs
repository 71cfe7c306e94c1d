using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using UNetCluster.Contracts.Jobs;

namespace UNetCluster.Ops.Tests;

/// <summary>The REST API of a real silo process: every status code it answers, and the token rules.</summary>
[Collection(SiloTests.Name)]
[Trait("Category", "Api")]
public sealed class OperationsApiTests(SiloFixture silo)
{
    private const string ValidSpec = """{"preset": "tiny", "steps": 2}""";

    [Fact]
    public async Task PostJobs_WithoutToken_Returns401AndCreatesNothing()
    {
        using var response = await silo.Http.SendAsync(SiloFixture.Request(HttpMethod.Post, "api/jobs", null, """{"id": "api-no-token", "preset": "tiny", "steps": 2}"""), Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        Assert.Contains(await ErrorsAsync(response), e => e.Contains("send 'Authorization: Bearer <token>'", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.NotFound, (await silo.Http.GetAsync("api/jobs/api-no-token", Ct)).StatusCode);
    }

    [Fact]
    public async Task PostJobs_WrongToken_Returns403AndCreatesNothing()
    {
        using var response = await silo.Http.SendAsync(SiloFixture.Request(HttpMethod.Post, "api/jobs", "not-" + SiloFixture.Token, """{"id": "api-wrong-token", "preset": "tiny", "steps": 2}"""), Ct);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal(["the bearer token is wrong."], await ErrorsAsync(response));
        Assert.Equal(HttpStatusCode.NotFound, (await silo.Http.GetAsync("api/jobs/api-wrong-token", Ct)).StatusCode);
    }

    [Theory]
    [InlineData("""{"preset": "tiny", "steps": "many"}""", "steps: expected an integer")]
    [InlineData("""{"preset": "tiny", "workers": 1.5}""", "workers: expected an integer")]
    [InlineData("""{"preset": 7}""", "preset: expected a string")]
    [InlineData("""{"preset": "tiny", "colour": "blue"}""", "colour: unknown field")]
    [InlineData("""{"id": 12, "preset": "tiny"}""", "id: expected a string")]
    [InlineData("""[1, 2]""", "must be a JSON object")]
    [InlineData("""{"preset": "tiny", """, "not valid JSON")]
    [InlineData("", "not valid JSON")]
    [InlineData("""{"preset": "tiny", "steps": 5, "steps": -1}""", "steps: given more than once")]
    [InlineData("""{"id": "api-case-a", "ID": "api-case-b", "preset": "tiny"}""", "ID: the same field as 'id'")]
    [InlineData("""{"preset": "tiny", "Steps": 2, "steps": 3}""", "steps: the same field as 'Steps'")]
    public async Task PostJobs_MalformedBody_Returns400NamingTheField(string body, string expected)
    {
        using var response = await silo.Http.SendAsync(SiloFixture.Request(HttpMethod.Post, "api/jobs", SiloFixture.Token, body), Ct);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = await ErrorsAsync(response);
        Assert.Contains(errors, e => e.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public async Task PostJobs_BodyOverTheLimit_Returns413WithTheJsonErrorBodyAndCreatesNothing()
    {
        var padding = new string(' ', 100 * 1024);
        using var response = await silo.Http.SendAsync(SiloFixture.Request(
            HttpMethod.Post, "api/jobs", SiloFixture.Token, $$"""{"id": "api-too-large", "preset": "tiny",{{padding}}"steps": 2}"""), Ct);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains(await ErrorsAsync(response), e => e.Contains("larger than 65536 bytes", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.NotFound, (await silo.Http.GetAsync("api/jobs/api-too-large", Ct)).StatusCode);
    }

    [Fact]
    public async Task PostJobs_SpecTheClusterRefuses_Returns400WithEveryValidationErrorAndCreatesNothing()
    {
        using var response = await silo.Http.SendAsync(SiloFixture.Request(
            HttpMethod.Post, "api/jobs", SiloFixture.Token, """{"id": "api-refused", "dataSet": "nowhere", "preset": "tiny", "workers": 0}"""), Ct);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = await ErrorsAsync(response);
        Assert.Contains(errors, e => e.Contains("data set 'nowhere' is unknown", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("workers 0 is invalid", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.NotFound, (await silo.Http.GetAsync("api/jobs/api-refused", Ct)).StatusCode);
        Assert.False(Directory.Exists(Path.Combine(silo.StorageRoot, "jobs", "api-refused")));
    }

    [Fact]
    public async Task PostJobs_ValidSpecWithToken_Returns201AndTheJobIsListedReadableAndRuns()
    {
        using var response = await silo.Http.SendAsync(SiloFixture.Request(HttpMethod.Post, "api/jobs", SiloFixture.Token, """{"id": "api-created", "preset": "tiny", "steps": 3}"""), Ct);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("/api/jobs/api-created", response.Headers.Location?.ToString());
        var created = (await response.Content.ReadFromJsonAsync<JobStatus>(SiloFixture.Json, Ct))!;
        Assert.Equal("api-created", created.Id);
        Assert.Equal("tiny", created.Spec.Preset);

        var list = (await silo.Http.GetFromJsonAsync<List<JobStatus>>("api/jobs", SiloFixture.Json, Ct))!;
        Assert.Contains(list, j => j.Id == "api-created");
        var done = await silo.WaitForAsync("api-created", s => s.IsFinished, TimeSpan.FromMinutes(2));
        Assert.Equal(JobState.Completed, done.State);
        Assert.Equal(3, done.Step);
    }

    [Fact]
    public async Task PostJobs_SameIdAsARunningJob_Returns400()
    {
        await silo.SubmitAsync("api-duplicate", 400);
        try
        {
            using var response = await silo.Http.SendAsync(SiloFixture.Request(HttpMethod.Post, "api/jobs", SiloFixture.Token, """{"id": "api-duplicate", "preset": "tiny"}"""), Ct);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Contains(await ErrorsAsync(response), e => e.Contains("job id 'api-duplicate' is taken", StringComparison.Ordinal));
        }
        finally
        {
            await silo.CancelAsync("api-duplicate");
        }
    }

    [Fact]
    public async Task PostPredictions_TokenRulesBodyErrorsAndARefusedSpec_CreateNothing()
    {
        const string body = """{"id": "api-predict", "fromJob": "no-such-job", "prefix": "inputs/"}""";
        using (var none = await silo.Http.SendAsync(SiloFixture.Request(HttpMethod.Post, "api/predictions", null, body), Ct))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        }

        using (var wrong = await silo.Http.SendAsync(SiloFixture.Request(HttpMethod.Post, "api/predictions", "not-" + SiloFixture.Token, body), Ct))
        {
            Assert.Equal(HttpStatusCode.Forbidden, wrong.StatusCode);
        }

        using (var malformed = await silo.Http.SendAsync(SiloFixture.Request(HttpMethod.Post, "api/predictions", SiloFixture.Token, """{"fromJob": "a", "tile": 5, "checkpointSha256": "00"}"""), Ct))
        {
            Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
            var errors = await ErrorsAsync(malformed);
            Assert.Contains(errors, e => e.StartsWith("tile: unknown field", StringComparison.Ordinal) && e.Contains("tileSize", StringComparison.Ordinal));
            Assert.Contains(errors, e => e.StartsWith("checkpointSha256: unknown field", StringComparison.Ordinal));   // set by the cluster, not a body
        }

        using (var refused = await silo.Http.SendAsync(SiloFixture.Request(HttpMethod.Post, "api/predictions", SiloFixture.Token, body), Ct))
        {
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Contains(await ErrorsAsync(refused), e => e.Contains("fromJob 'no-such-job' has no checkpoint", StringComparison.Ordinal));
        }

        Assert.Equal(HttpStatusCode.NotFound, (await silo.Http.GetAsync("api/jobs/api-predict", Ct)).StatusCode);
        Assert.False(Directory.Exists(Path.Combine(silo.StorageRoot, "predictions", "api-predict")));
    }

    [Fact]
    public async Task GetJob_UnknownId_Returns404()
    {
        using var response = await silo.Http.GetAsync("api/jobs/no-such-job", Ct);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains(await ErrorsAsync(response), e => e.Contains("job 'no-such-job' is unknown", StringComparison.Ordinal));
    }

    [Fact]
    public async Task CancelJob_WithoutToken401_WrongToken403_UnknownJob404_WithToken202AndTheJobStops()
    {
        var id = await silo.SubmitAsync("api-cancel", 400);
        await silo.WaitForAsync(id, s => s.Step >= 1, TimeSpan.FromMinutes(2));

        using (var none = await silo.Http.SendAsync(SiloFixture.Request(HttpMethod.Post, $"api/jobs/{id}/cancel", null), Ct))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        }

        using (var wrong = await silo.Http.SendAsync(SiloFixture.Request(HttpMethod.Post, $"api/jobs/{id}/cancel", "wrong"), Ct))
        {
            Assert.Equal(HttpStatusCode.Forbidden, wrong.StatusCode);
        }

        using (var unknown = await silo.Http.SendAsync(SiloFixture.Request(HttpMethod.Post, "api/jobs/no-such-job/cancel", SiloFixture.Token), Ct))
        {
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        }

        Assert.Equal(JobState.Running, (await silo.StatusAsync(id)).State);   // the refused requests changed nothing
        using (var accepted = await silo.Http.SendAsync(SiloFixture.Request(HttpMethod.Post, $"api/jobs/{id}/cancel", SiloFixture.Token), Ct))
        {
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        }

        var stopped = await silo.WaitForAsync(id, s => s.IsFinished, TimeSpan.FromMinutes(1));
        Assert.Equal(JobState.Cancelled, stopped.State);
        Assert.True(stopped.Step < 400);
    }

    [Fact]
    public async Task GetCluster_RunningSilo_Returns200WithTheActiveSilo()
    {
        var cluster = await silo.Http.GetFromJsonAsync<JsonElement>("api/cluster", Ct);
        var members = cluster.GetProperty("members").EnumerateArray().ToList();
        var self = Assert.Single(members);
        Assert.Equal("Active", self.GetProperty("status").GetString());
        Assert.True(self.GetProperty("thisSilo").GetBoolean());
        Assert.Equal(cluster.GetProperty("thisSilo").GetString(), self.GetProperty("address").GetString());
    }

    [Fact]
    public async Task GetEvents_RunningJob_StreamsStepsInOrderThenStatusAndEndWhenCancelled()
    {
        var id = await silo.SubmitAsync("api-events", 400);
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            using var response = await silo.Http.GetAsync($"api/jobs/{id}/events", HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(timeout.Token));
            var steps = new List<long>();
            var events = new List<string>();
            string? type = null;
            while (await reader.ReadLineAsync(timeout.Token) is { } line)
            {
                if (line.StartsWith("event: ", StringComparison.Ordinal))
                {
                    type = line["event: ".Length..];
                    events.Add(type);
                }
                else if (line.StartsWith("data: ", StringComparison.Ordinal) && type == "step")
                {
                    var point = JsonSerializer.Deserialize<StepPoint>(line["data: ".Length..], SiloFixture.Json)!;
                    Assert.True(double.IsFinite(point.Loss));
                    Assert.Single(point.Workers);
                    steps.Add(point.Step);
                    if (steps.Count == 3)
                    {
                        await silo.CancelAsync(id);
                    }
                }
                else if (type == "end")
                {
                    break;
                }
            }

            Assert.True(steps.Count >= 3, string.Join(",", events));
            Assert.Equal(steps.Order().Distinct(), steps);
            Assert.Equal(1, steps[0]);
            Assert.Contains("status", events);
            Assert.Equal("end", events[^1]);
        }
        finally
        {
            await silo.CancelAsync(id);
        }
    }

    [Fact]
    public async Task GetEvents_UnknownJob_Returns404()
    {
        using var response = await silo.Http.GetAsync("api/jobs/no-such-job/events", Ct);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains(await ErrorsAsync(response), e => e.Contains("job 'no-such-job' is unknown", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Get_PathThatIsNoEndpoint_Returns404ProblemPointingAtTheApiDescription()
    {
        using var response = await silo.Http.GetAsync("api/no-such-thing", Ct);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains(await ErrorsAsync(response), e => e.Contains("the API is described at /openapi/v1.json", StringComparison.Ordinal));
    }

    [Fact]
    public async Task GetEvents_AfterAStep_ResumesWithTheNextStep()
    {
        await silo.SubmitAsync("api-events-after", 4);
        await silo.WaitForAsync("api-events-after", s => s.IsFinished, TimeSpan.FromMinutes(2));
        using var request = new HttpRequestMessage(HttpMethod.Get, "api/jobs/api-events-after/events");
        request.Headers.Add("Last-Event-ID", "2");
        using var response = await silo.Http.SendAsync(request, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        var ids = text.Split('\n').Where(l => l.StartsWith("id: ", StringComparison.Ordinal)).Select(l => long.Parse(l[4..], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal([3L, 4L], ids);
        Assert.EndsWith("event: end\ndata: {\"state\":\"completed\"}\n\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Token_AfterRequestsThatCarriedIt_NeverAppearsInTheSilosLogsOrResponses()
    {
        var bodies = new List<string>();
        foreach (var (method, path, body) in new[]
        {
            (HttpMethod.Post, "api/jobs", ValidSpec.Replace("{", """{"id": "api-token-leak", """, StringComparison.Ordinal)),
            (HttpMethod.Post, "api/jobs", """{"steps": "x"}"""),
            (HttpMethod.Post, "api/jobs/api-token-leak/cancel", null),
            (HttpMethod.Get, "api/jobs", null),
            (HttpMethod.Get, "api/cluster", null),
        })
        {
            using var response = await silo.Http.SendAsync(SiloFixture.Request(method, path, SiloFixture.Token, body), Ct);
            bodies.Add(await response.Content.ReadAsStringAsync(Ct));
            bodies.Add(response.Headers.ToString());
        }

        using (var wrong = await silo.Http.SendAsync(SiloFixture.Request(HttpMethod.Post, "api/jobs/api-token-leak/cancel", SiloFixture.Token + "x"), Ct))
        {
            bodies.Add(await wrong.Content.ReadAsStringAsync(Ct));
        }

        bodies.Add(await silo.Http.GetStringAsync("metrics", Ct));
        await silo.WaitForAsync("api-token-leak", s => s.IsFinished, TimeSpan.FromMinutes(1));
        Assert.DoesNotContain(bodies, b => b.Contains(SiloFixture.Token, StringComparison.Ordinal));
        Assert.Contains("bearer token required and configured", silo.Silo.Output, StringComparison.Ordinal);   // the log is there...
        Assert.DoesNotContain(SiloFixture.Token, silo.Silo.Output, StringComparison.Ordinal);                  // ...the token is not
    }

    [Fact]
    public async Task PostJobs_TokenInTheQueryString_Returns401SayingWhyAndTheTokenNeverReachesTheLog()
    {
        // ASP.NET Core logs each endpoint it runs (the fixture turns its request logs on): that line, after the request's
        // own start line, is the barrier that the silo's log of this request has been written.
        const string endpointLog = "Executed endpoint 'HTTP: POST /api/jobs";
        var before = Occurrences(silo.Silo.Output, endpointLog);
        using var response = await silo.Http.SendAsync(SiloFixture.Request(
            HttpMethod.Post, $"api/jobs?access_token={SiloFixture.Token}", null, """{"id": "api-token-in-url", "preset": "tiny", "steps": 2}"""), Ct);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains(await ErrorsAsync(response), e => e.Contains("a token in the URL ('access_token') is not accepted", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.NotFound, (await silo.Http.GetAsync("api/jobs/api-token-in-url", Ct)).StatusCode);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (Occurrences(silo.Silo.Output, endpointLog) <= before)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the silo did not log the request\n{SiloFixture.Tail(silo.Silo.Output)}");
            await Task.Delay(100, Ct);
        }

        Assert.DoesNotContain(SiloFixture.Token, silo.Silo.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("access_token", silo.Silo.Output, StringComparison.Ordinal);
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static int Occurrences(string text, string part)
    {
        var count = 0;
        for (var at = text.IndexOf(part, StringComparison.Ordinal); at >= 0; at = text.IndexOf(part, at + part.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    /// <summary>The errors of an RFC 9457 problem, after checking its content type and members.</summary>
    internal static async Task<IReadOnlyList<string>> ErrorsAsync(HttpResponseMessage response)
    {
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)).RootElement;   // buffered: the test may read it again
        Assert.Equal((int)response.StatusCode, body.GetProperty("status").GetInt32());
        Assert.StartsWith("https://tools.ietf.org/html/rfc9110#section-15.", body.GetProperty("type").GetString(), StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(body.GetProperty("title").GetString()));
        var errors = body.GetProperty("errors").EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.NotEmpty(errors);
        Assert.Equal(string.Join(" ", errors), body.GetProperty("detail").GetString());   // the same problems in one line
        return errors;
    }
}
