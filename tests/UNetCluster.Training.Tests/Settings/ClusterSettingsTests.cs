using UNetCluster.Training.Settings;
using UNetCluster.Training.Transport;

namespace UNetCluster.Training.Tests.Settings;

/// <summary>The cluster settings as a log or an error message would print them, and the data-plane key they give.</summary>
public sealed class ClusterSettingsTests
{
    [Fact]
    public void ToString_WithSecrets_ShowsEveryMemberButNeitherSecret()
    {
        var settings = new ClusterSettings
        {
            Clustering = ClusteringKind.Redis,
            Redis = "redis:6379,password=the-redis-password",
            DataPlaneSecret = "the-data-plane-secret-value",
        };

        var printed = settings.ToString();

        Assert.DoesNotContain("the-data-plane-secret-value", printed, StringComparison.Ordinal);
        Assert.DoesNotContain("the-redis-password", printed, StringComparison.Ordinal);
        Assert.Contains("DataPlaneSecret = (set)", printed, StringComparison.Ordinal);
        Assert.All(typeof(ClusterSettings).GetProperties(), p => Assert.Contains($"{p.Name} = ", printed, StringComparison.Ordinal));   // one added later too
    }

    [Fact]
    public void DataPlaneKey_OneProcessWithoutASecret_IsTheSameForEverySiloOfTheProcess()
    {
        var one = new DataPlaneKey(new ClusterSettings());
        var other = new DataPlaneKey(new ClusterSettings { ClusterId = "another" });
        var configured = new DataPlaneKey(new ClusterSettings { DataPlaneSecret = "a-configured-secret-value" });

        Assert.Equal(one.Mac("challenge"u8), other.Mac("challenge"u8));
        Assert.NotEqual(one.Mac("challenge"u8), configured.Mac("challenge"u8));
        Assert.DoesNotContain("a-configured-secret-value", configured.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(ClusteringKind.Redis, false, null, "UNetCluster:Cluster:DataPlaneSecret is not set")]
    [InlineData(ClusteringKind.Localhost, true, null, "UNetCluster:Cluster:DataPlaneSecret is not set")]
    [InlineData(ClusteringKind.Redis, false, "fifteen-chars!!", "UNetCluster:Cluster:DataPlaneSecret is 15 characters long; at least 16 are required")]
    public void DataPlaneKey_ReachableSiloWithoutAGoodSecret_ThrowsNamingTheSetting(ClusteringKind clustering, bool kubernetes, string? secret, string expected)
    {
        var settings = new ClusterSettings { Clustering = clustering, Kubernetes = kubernetes, DataPlaneSecret = secret };

        var error = Assert.Throws<InvalidOperationException>(() => new DataPlaneKey(settings));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.NotNull(new DataPlaneKey(settings with { DataPlane = false }));   // no data plane, nothing to protect
    }
}
