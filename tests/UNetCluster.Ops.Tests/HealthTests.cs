using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using UNetCluster.Silo.Hosting;

namespace UNetCluster.Ops.Tests;

/// <summary>The probe endpoints of a running silo, as Kubernetes reads them.</summary>
[Collection(SiloTests.Name)]
[Trait("Category", "Api")]
public sealed class HealthTests(SiloFixture silo)
{
    [Theory]
    [InlineData(HealthExtensions.LivePath, "process", "the process is serving HTTP")]
    [InlineData(HealthExtensions.StartupPath, "started", "started")]
    [InlineData(HealthExtensions.ReadyPath, "membership", "this silo is Active in its membership view")]
    public async Task Probe_ActiveSilo_Returns200WithOnlyItsOwnCheck(string path, string check, string description)
    {
        using var response = await silo.Http.GetAsync(path.TrimStart('/'), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
        Assert.Equal("Healthy", body.GetProperty("status").GetString());
        var only = Assert.Single(body.GetProperty("checks").EnumerateObject());
        Assert.Equal(check, only.Name);
        Assert.Equal(description, only.Value.GetProperty("description").GetString());
    }
}
