using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using UNetCluster.Silo.Hosting;
using UNetCluster.Training.Settings;
using UNetCluster.Training.Transport;

namespace UNetCluster.Silo.Tests.Hosting;

/// <summary>What a silo's configuration makes of its data plane before anything listens: a silo that other processes reach needs the cluster's secret.</summary>
public sealed class SiloHostingTests
{
    [Theory]
    [InlineData("Redis", "false", null)]
    [InlineData("Localhost", "true", null)]
    [InlineData("Redis", "false", "too-short")]
    public void AddUNetSilo_DataPlaneReachableWithoutAGoodSecret_RefusesToStartNamingTheSetting(string clustering, string kubernetes, string? secret)
    {
        var builder = Builder(new()
        {
            ["UNetCluster:Cluster:Clustering"] = clustering,
            ["UNetCluster:Cluster:Redis"] = "127.0.0.1:1",
            ["UNetCluster:Cluster:Kubernetes"] = kubernetes,
            ["UNetCluster:Cluster:DataPlaneSecret"] = secret,
        });

        var error = Assert.Throws<InvalidOperationException>(() =>
        {
            builder.AddUNetSilo();
            using var host = builder.Build();
        });

        Assert.Contains("UNetCluster:Cluster:DataPlaneSecret", error.Message, StringComparison.Ordinal);
        Assert.Contains(secret is null ? "is not set" : "at least 16 are required", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("too-short", error.Message, StringComparison.Ordinal);   // the value itself is never echoed
    }

    [Theory]
    [InlineData("Redis", "true", "a-cluster-secret-of-enough-characters")]
    [InlineData("Redis", "false", null)]
    [InlineData("Localhost", null, null)]
    public void AddUNetSilo_SecretOrNoDataPlaneOrOneProcess_Builds(string clustering, string? dataPlane, string? secret)
    {
        var builder = Builder(new()
        {
            ["UNetCluster:Cluster:Clustering"] = clustering,
            ["UNetCluster:Cluster:Redis"] = "127.0.0.1:1",
            ["UNetCluster:Cluster:DataPlane"] = dataPlane,
            ["UNetCluster:Cluster:DataPlaneSecret"] = secret,
        });

        builder.AddUNetSilo();
        using var host = builder.Build();

        Assert.NotNull(host.Services.GetRequiredService<DataPlaneKey>());
        var printed = host.Services.GetRequiredService<ClusterSettings>().ToString();
        Assert.Contains(secret is null ? "DataPlaneSecret = (unset)" : "DataPlaneSecret = (set)", printed, StringComparison.Ordinal);
        Assert.DoesNotContain(secret ?? "(none)", printed, StringComparison.Ordinal);
    }

    private static HostApplicationBuilder Builder(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        return builder;
    }
}
