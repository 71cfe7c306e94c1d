using Microsoft.AspNetCore.Builder;

namespace UNetCluster.Silo.Hosting;

/// <summary>The silo process as <c>Program.cs</c> runs it: the host with its silo, telemetry and HTTP endpoint, and every endpoint mapped.</summary>
public static class SiloApplication
{
    public const string ServiceName = "unetcluster-silo";

    /// <summary>Builds the silo's application from <paramref name="args"/>, appsettings.json and the environment; a bad setting throws, naming its key.</summary>
    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.AddUNetSilo().AddUNetTelemetry(ServiceName).AddUNetHttp();
        var app = builder.Build();
        app.MapUNetOperations();
        return app;
    }
}
