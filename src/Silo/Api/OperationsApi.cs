using System.Globalization;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using UNetCluster.Contracts.Grains;
using UNetCluster.Contracts.Jobs;
using UNetCluster.Training;

namespace UNetCluster.Silo.Api;

/// <summary>
/// A silo of the cluster as <c>GET /api/cluster</c> shows it, with its worker's part of the latest step it took part
/// in: its times, the device and precision it computed in ("cpu bf16") and the memory it had in use then.
/// </summary>
public sealed record ClusterMemberView(
    string Address, string? Name, string Status, bool ThisSilo, string? Job, long? Step, double? ComputeSeconds, double? SyncSeconds, DateTimeOffset? At,
    string? Compute = null, long? MemoryBytes = null);

public sealed record ClusterView(string ThisSilo, IReadOnlyList<ClusterMemberView> Members);

/// <summary>
/// The REST API: jobs (submit, list, status, cancel, history, server-sent events) and the cluster's members. Reading is
/// open; submitting and cancelling need the bearer token (<see cref="BearerToken"/>).
/// </summary>
public static class OperationsApi
{
    private static readonly TimeSpan EventPoll = TimeSpan.FromMilliseconds(500);

    public static IEndpointRouteBuilder MapOperationsApi(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var api = endpoints.MapGroup("/api");
        // The handlers answer IResult; what they answer is declared for the OpenAPI document (/openapi/v1.json).
        api.MapPost("/jobs", SubmitAsync).AddOpenApiOperationTransformer(JobSpecReader.DescribeBodyAsync).AddOpenApiOperationTransformer(BearerToken.DescribeRequirementAsync)
            .Produces<JobStatus>(StatusCodes.Status201Created).ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .WithSummary("Submit a training job (bearer token): the job spec's fields in camelCase, plus an optional string 'id'.");
        api.MapPost("/predictions", SubmitPredictionAsync).AddOpenApiOperationTransformer(JobSpecReader.DescribePredictionBodyAsync)
            .AddOpenApiOperationTransformer(BearerToken.DescribeRequirementAsync)
            .Produces<JobStatus>(StatusCodes.Status201Created).ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .WithSummary("Submit a prediction job (bearer token): the prediction spec's fields in camelCase, plus an optional string 'id'; then one of the jobs.");
        api.MapGet("/jobs", async (IGrainFactory grains) => TypedResults.Ok(await grains.GetGrain<IJobRegistryGrain>(0).ListAsync().ConfigureAwait(false)))
            .WithSummary("Every job's status.");
        api.MapGet("/jobs/{id}", GetAsync).Produces<JobStatus>().ProducesProblem(StatusCodes.Status404NotFound).WithSummary("One job's status.");
        api.MapPost("/jobs/{id}/cancel", CancelAsync).AddOpenApiOperationTransformer(BearerToken.DescribeRequirementAsync).Produces<JobStatus>(StatusCodes.Status202Accepted).ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("Stop a job at its next step boundary with a checkpoint (bearer token).");
        api.MapGet("/jobs/{id}/history", HistoryAsync).Produces<JobHistory>().ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("A job's recent steps (at most 2000, older ones thinned), checkpoints and validations.");
        api.MapGet("/jobs/{id}/events", EventsAsync).Produces(StatusCodes.Status200OK, contentType: "text/event-stream").ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("Server-sent events: step (id: the step), checkpoint, validation, status, end.");
        api.MapGet("/cluster", ClusterAsync).Produces<ClusterView>().WithSummary("The silos, their membership state and their worker's part of the latest step.");
        return endpoints;
    }

    private static Task<IResult> SubmitAsync(HttpRequest request, BearerToken token, IGrainFactory grains, CancellationToken cancellationToken) =>
        SubmitSpecAsync(request, token, grains, JobSpecReader.ReadAsync, cancellationToken);

    /// <summary>
    /// <c>POST /api/predictions</c>: a prediction job (a <see cref="PredictionSpec"/> and an optional <c>id</c>), checked
    /// and created as <c>POST /api/jobs</c> creates a training job; it is then one of the jobs (<c>GET /api/jobs/{id}</c>).
    /// </summary>
    private static Task<IResult> SubmitPredictionAsync(HttpRequest request, BearerToken token, IGrainFactory grains, CancellationToken cancellationToken) =>
        SubmitSpecAsync(request, token, grains, JobSpecReader.ReadPredictionAsync, cancellationToken);

    private static async Task<IResult> SubmitSpecAsync(
        HttpRequest request, BearerToken token, IGrainFactory grains,
        Func<Stream, CancellationToken, Task<(JobSpec? Spec, string? Id, IReadOnlyList<string> Errors, int Status)>> read, CancellationToken cancellationToken)
    {
        if (token.Refuse(request) is { } refused)
        {
            return refused;
        }

        (JobSpec? Spec, string? Id, IReadOnlyList<string> Errors, int Status) body;
        try
        {
            body = await read(request.Body, cancellationToken).ConfigureAwait(false);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            // Kestrel's own limit, met before the reader's: the same answer, with its JSON error body.
            return ApiErrors.Problem(e.StatusCode, JobSpecReader.TooLarge);
        }

        var (spec, id, errors, refusal) = body;
        if (spec is null)
        {
            return ApiErrors.Problem(refusal, errors);
        }

        var result = await grains.GetGrain<IJobRegistryGrain>(0).SubmitAsync(spec, id).ConfigureAwait(false);
        if (!result.Accepted)
        {
            return ApiErrors.Problem(StatusCodes.Status400BadRequest, result.Errors);
        }

        var status = await grains.GetGrain<ITrainingJobGrain>(result.JobId!).GetStatusAsync().ConfigureAwait(false);
        return TypedResults.Created($"/api/jobs/{Uri.EscapeDataString(result.JobId!)}", status);
    }

    private static async Task<IResult> GetAsync(string id, IGrainFactory grains) =>
        await FindAsync(grains, id).ConfigureAwait(false) is { } status ? TypedResults.Ok(status) : UnknownJob(id);

    private static async Task<IResult> CancelAsync(string id, HttpRequest request, BearerToken token, IGrainFactory grains)
    {
        if (token.Refuse(request) is { } refused)
        {
            return refused;
        }

        if (!await grains.GetGrain<IJobRegistryGrain>(0).ExistsAsync(id).ConfigureAwait(false))
        {
            return UnknownJob(id);
        }

        var status = await grains.GetGrain<ITrainingJobGrain>(id).CancelAsync().ConfigureAwait(false);
        return TypedResults.Accepted($"/api/jobs/{Uri.EscapeDataString(id)}", status);
    }

    private static async Task<IResult> HistoryAsync(string id, IGrainFactory grains, long? after)
    {
        if (!await grains.GetGrain<IJobRegistryGrain>(0).ExistsAsync(id).ConfigureAwait(false))
        {
            return UnknownJob(id);
        }

        return TypedResults.Ok(await grains.GetGrain<IJobHistoryGrain>(id).GetAsync(after ?? -1).ConfigureAwait(false));
    }

    /// <summary>
    /// Server-sent events of a job: <c>status</c> when its status changes, <c>step</c> for each committed step (with the
    /// step as the event id; <c>?after=N</c> or <c>Last-Event-ID</c> skips steps up to N), <c>checkpoint</c> for each
    /// checkpoint, <c>validation</c> for each validation of the model, and <c>end</c> once the job has finished.
    /// </summary>
    private static async Task<IResult> EventsAsync(string id, HttpContext context, IGrainFactory grains, IOptions<JsonOptions> json, long? after)
    {
        if (await FindAsync(grains, id).ConfigureAwait(false) is null)
        {
            return UnknownJob(id);
        }

        var lastStep = after ?? (long.TryParse(context.Request.Headers["Last-Event-ID"], out var resumed) ? resumed : -1);
        context.Response.Headers["X-Accel-Buffering"] = "no";   // a proxy in front (nginx) must not hold events back
        return TypedResults.ServerSentEvents(JobEventsAsync(id, lastStep, grains, json.Value.SerializerOptions, context.RequestAborted));
    }

    /// <summary>The events of <see cref="EventsAsync"/>, polled from the job's grains until it has finished or the client goes away.</summary>
    private static async IAsyncEnumerable<SseItem<string>> JobEventsAsync(
        string id, long lastStep, IGrainFactory grains, JsonSerializerOptions options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var checkpoints = 0;
        var validations = 0;
        DateTimeOffset? lastUpdate = null;
        while (!cancellationToken.IsCancellationRequested)
        {
            var status = await FindAsync(grains, id).ConfigureAwait(false);
            var history = await grains.GetGrain<IJobHistoryGrain>(id).GetAsync(lastStep).ConfigureAwait(false);
            foreach (var point in history.Steps)
            {
                yield return new SseItem<string>(JsonSerializer.Serialize(point, options), "step") { EventId = point.Step.ToString(CultureInfo.InvariantCulture) };
                lastStep = point.Step;
            }

            foreach (var checkpoint in history.Checkpoints.Skip(checkpoints))
            {
                yield return new SseItem<string>(JsonSerializer.Serialize(checkpoint, options), "checkpoint");
            }

            checkpoints = history.Checkpoints.Count;
            foreach (var validation in history.Validations.Skip(validations))
            {
                yield return new SseItem<string>(JsonSerializer.Serialize(validation, options), "validation");
            }

            validations = history.Validations.Count;
            if (status is not null && status.Updated != lastUpdate)
            {
                yield return new SseItem<string>(JsonSerializer.Serialize(status, options), "status");
                lastUpdate = status.Updated;
            }

            if (status is { IsFinished: true })
            {
                yield return new SseItem<string>(JsonSerializer.Serialize(new { state = status.State }, options), "end");
                yield break;
            }

            // The client going away ends the stream here, without an exception.
            await Task.Delay(EventPoll, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private static async Task<IResult> ClusterAsync(IClusterMembershipService membership, ILocalSiloDetails silo, IGrainFactory grains)
    {
        // Each worker's latest step time: from the last step of the most recent jobs it worked on.
        var jobs = await grains.GetGrain<IJobRegistryGrain>(0).ListAsync().ConfigureAwait(false);
        var latest = new Dictionary<SiloAddress, (string Job, StepPoint Point, WorkerStepPoint Worker)>();
        foreach (var job in jobs.OrderByDescending(j => j.Updated).Take(8))
        {
            var history = await grains.GetGrain<IJobHistoryGrain>(job.Id).GetAsync(job.Step - 2).ConfigureAwait(false);
            if (history.Steps.Count == 0)
            {
                continue;
            }

            var point = history.Steps[^1];
            foreach (var worker in point.Workers)
            {
                var address = SiloKeys.SiloOf(worker.Worker);
                if (!latest.TryGetValue(address, out var known) || known.Point.At < point.At)
                {
                    latest[address] = (job.Id, point, worker);
                }
            }
        }

        var members = membership.CurrentSnapshot.Members.Values
            .OrderBy(m => m.SiloAddress.ToParsableString(), StringComparer.Ordinal)
            .Select(m =>
            {
                var found = latest.TryGetValue(m.SiloAddress, out var l);
                return new ClusterMemberView(
                    m.SiloAddress.ToParsableString(), m.Name, m.Status.ToString(), m.SiloAddress.Equals(silo.SiloAddress),
                    found ? l.Job : null, found ? l.Point.Step : null, found ? l.Worker.ComputeSeconds : null, found ? l.Worker.SyncSeconds : null, found ? l.Point.At : null,
                    found ? l.Worker.Compute : null, found && l.Worker.MemoryBytes > 0 ? l.Worker.MemoryBytes : null);
            })
            .ToList();
        return TypedResults.Ok(new ClusterView(silo.SiloAddress.ToParsableString(), members));
    }

    private static async Task<JobStatus?> FindAsync(IGrainFactory grains, string id)
    {
        if (!await grains.GetGrain<IJobRegistryGrain>(0).ExistsAsync(id).ConfigureAwait(false))
        {
            return null;
        }

        try
        {
            return await grains.GetGrain<ITrainingJobGrain>(id).GetStatusAsync().ConfigureAwait(false);
        }
        catch (KeyNotFoundException)
        {
            return null;
        }
    }

    private static ProblemHttpResult UnknownJob(string id) =>
        ApiErrors.Problem(StatusCodes.Status404NotFound, $"job '{id}' is unknown: GET /api/jobs lists the cluster's jobs.");
}
