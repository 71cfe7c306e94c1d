using UNetCluster.Silo.Hosting;

namespace UNetCluster.Ops.Tests;

/// <summary>The HTTP settings' defaults and printing, in-process.</summary>
public sealed class HttpSettingsTests
{
    [Fact]
    public void Urls_NotConfigured_BindLoopbackOnly()
    {
        var urls = new HttpSettings().Urls.Split(';');
        Assert.All(urls, u => Assert.True(new Uri(u).IsLoopback, u));
    }

    [Fact]
    public void ToString_WithToken_ShowsThatItIsSetButNotTheToken()
    {
        var options = new UNetSiloOptions { Http = new HttpSettings { Token = "very-secret-token-42" } };
        Assert.DoesNotContain("very-secret-token-42", options.ToString(), StringComparison.Ordinal);
        Assert.Contains("Token = (set)", options.ToString(), StringComparison.Ordinal);
    }
}
