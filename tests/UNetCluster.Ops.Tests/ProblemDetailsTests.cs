using System.Net;
using System.Reflection;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Runtime;
using UNetCluster.EndToEnd.Tests;
using UNetCluster.Silo.Api;
using UNetCluster.Silo.Hosting;
using UNetCluster.Tests.Common;

namespace UNetCluster.Ops.Tests;

/// <summary>
/// What a client sees when a grain call fails inside a request: the API's HTTP set-up (<see cref="HttpExtensions"/>)
/// on Kestrel in this process, with a grain factory whose every grain call throws, as an unreachable or failing cluster does.
/// </summary>
[Trait("Category", "Api")]
public sealed class ProblemDetailsTests
{
    [Theory]
    [InlineData("api/jobs")]
    [InlineData("api/jobs/some-job")]
    [InlineData("api/jobs/some-job/history")]
    [InlineData("api/cluster")]
    public async Task Get_GrainCallThrows_Returns500ProblemWithoutTheExceptionsMessage(string path)
    {
        var port = LoopbackPorts.Next();
        var builder = WebApplication.CreateBuilder();
        builder.Configuration["UNetCluster:Http:Urls"] = $"http://127.0.0.1:{port}";
        builder.AddUNetHttp();
        builder.Services.AddSingleton(ThrowingGrains.Of<IGrainFactory>());
        builder.Services.AddSingleton(ThrowingGrains.Of<IClusterMembershipService>());   // what GET /api/cluster asks for besides grains
        builder.Services.AddSingleton(ThrowingGrains.Of<ILocalSiloDetails>());
        await using var app = builder.Build();
        app.UseUNetProblemDetails();
        app.MapOperationsApi();
        await app.StartAsync(Ct);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };

        using var response = await http.GetAsync(path, Ct);

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        var errors = await OperationsApiTests.ErrorsAsync(response);
        var error = Assert.Single(errors);
        Assert.Contains($"the silo failed while answering GET /{path} (OrleansException)", error, StringComparison.Ordinal);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)).RootElement;
        Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$", body.GetProperty(ApiErrors.TraceIdMember).GetString());   // W3C, as the log and traces have it
        Assert.DoesNotContain(ThrowingGrains.Message, body.GetRawText(), StringComparison.Ordinal);
        await app.StopAsync(Ct);
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A grain factory (or Orleans service) whose grains throw on every call.</summary>
    public class ThrowingGrains : DispatchProxy
    {
        public const string Message = "internal detail: silo 10.1.2.3:11111 is unreachable";

        public static T Of<T>() => Create<T, ThrowingGrains>();

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            ArgumentNullException.ThrowIfNull(targetMethod);
            if (targetMethod.Name == nameof(IGrainFactory.GetGrain) && targetMethod.ReturnType.IsInterface)
            {
                return Create(targetMethod.ReturnType, typeof(ThrowingGrains));
            }

            throw new OrleansException(Message);
        }
    }
}
