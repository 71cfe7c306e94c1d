using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.WebUtilities;

namespace UNetCluster.Silo.Api;

/// <summary>
/// The API's one error shape: RFC 9457 problem details (<c>application/problem+json</c>) with the standard members
/// (<c>type</c>, <c>title</c>, <c>status</c>, <c>detail</c>) and an <c>errors</c> extension listing each problem on its
/// own (<c>["steps: expected an integer", ...]</c>, what the dashboard and scripts show). Every error the silo's HTTP
/// endpoint answers goes through here: the API's own refusals, the status code pages and unhandled exceptions.
/// </summary>
public static class ApiErrors
{
    /// <summary>The extension member that lists the problems one by one.</summary>
    public const string ErrorsMember = "errors";

    /// <summary>The extension member with the request's W3C trace id (ASP.NET Core adds it), to find it in the silo's log and traces.</summary>
    public const string TraceIdMember = "traceId";

    public static ProblemHttpResult Problem(int status, params IReadOnlyList<string> errors) =>
        TypedResults.Problem(new ProblemDetails
        {
            Status = status,
            Title = ReasonPhrases.GetReasonPhrase(status),
            Detail = string.Join(" ", errors),
            Extensions = { [ErrorsMember] = errors },
        });

    /// <summary>
    /// Completes every problem the framework writes (an unhandled exception, an empty 404 or 405) to the API's shape: a
    /// detail that says what happened and the <c>errors</c> list. An exception's message is not sent (it
    /// may carry internals); its type and the trace id let an operator find it in the log.
    /// </summary>
    public static void Complete(ProblemDetailsContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var problem = context.ProblemDetails;
        if (context.Exception is { } exception)
        {
            problem.Detail = $"the silo failed while answering {context.HttpContext.Request.Method} {context.HttpContext.Request.Path} " +
                $"({exception.GetType().Name}); its log has the exception under the trace id.";
        }
        else if (problem.Detail is null && problem.Status == StatusCodes.Status404NotFound)
        {
            problem.Detail = $"nothing is served at {context.HttpContext.Request.Path}; the API is described at /openapi/v1.json.";
        }
        else if (problem.Detail is null && problem.Status == StatusCodes.Status405MethodNotAllowed)
        {
            problem.Detail = $"{context.HttpContext.Request.Method} is not allowed on {context.HttpContext.Request.Path}; the API is described at /openapi/v1.json.";
        }

        problem.Extensions.TryAdd(ErrorsMember, new[] { problem.Detail ?? problem.Title ?? "error" });
    }
}
