using Microsoft.AspNetCore.Http;

namespace UNetCluster.Silo.Api;

/// <summary>The API's error body: <c>{"status": 400, "errors": ["steps: expected an integer", ...]}</c>.</summary>
public sealed record ApiError(int Status, IReadOnlyList<string> Errors);

public static class ApiErrors
{
    public static IResult Problem(int status, params IReadOnlyList<string> errors) =>
        TypedResults.Json(new ApiError(status, errors), statusCode: status);
}
