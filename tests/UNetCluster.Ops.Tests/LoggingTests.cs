using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using UNetCluster.EndToEnd.Tests;
using UNetCluster.Tests.Common;

namespace UNetCluster.Ops.Tests;

/// <summary>A silo started with <c>Logging:Console:FormatterName=json</c> writes one JSON object per log line, for log collectors.</summary>
[Trait("Category", "Api")]
public sealed class LoggingTests
{
    [Fact]
    public async Task ConsoleLog_JsonFormatterConfigured_WritesEachRecordAsOneJsonObject()
    {
        var http = LoopbackPorts.Next();
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = AppContext.BaseDirectory };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "UNetCluster.Silo.dll"));
        start.Environment["UNetCluster__Cluster__ClusterId"] = "json-" + Guid.NewGuid().ToString("N")[..8];
        start.Environment["UNetCluster__Cluster__SiloPort"] = LoopbackPorts.Next().ToString(CultureInfo.InvariantCulture);
        start.Environment["UNetCluster__Cluster__GatewayPort"] = LoopbackPorts.Next().ToString(CultureInfo.InvariantCulture);
        start.Environment["UNetCluster__Http__Urls"] = $"http://127.0.0.1:{http}";
        start.Environment["UNetCluster__Storage__Root"] = Path.Combine(Path.GetTempPath(), "unetcluster-tests", "json-" + Guid.NewGuid().ToString("N"));
        start.Environment["Logging__Console__FormatterName"] = "json";
        using var silo = new ChildProcess("json-logging silo", start);

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (!silo.Output.Contains("Serving the dashboard", StringComparison.Ordinal))
        {
            Assert.False(silo.Process.HasExited, silo.Output);
            Assert.True(DateTime.UtcNow < deadline, $"the silo did not start\n{SiloFixture.Tail(silo.Output)}");
            await Task.Delay(200, TestContext.Current.CancellationToken);
        }

        var records = silo.Output.Split('\n').Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.All(records, r => Assert.True(r.TryGetProperty("LogLevel", out _) && r.TryGetProperty("Category", out _) && r.TryGetProperty("Message", out _), r.GetRawText()));
        var serving = Assert.Single(records, r => r.GetProperty("Category").GetString() == "UNetCluster.Silo.Http");
        Assert.Equal("Information", serving.GetProperty("LogLevel").GetString());
        Assert.Equal($"http://127.0.0.1:{http}", serving.GetProperty("State").GetProperty("Urls").GetString());   // the structured values, not only the text
    }
}
