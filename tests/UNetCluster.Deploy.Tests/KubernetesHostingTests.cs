using System.Diagnostics;
using System.Globalization;
using UNetCluster.EndToEnd.Tests;
using UNetCluster.Tests.Common;

namespace UNetCluster.Deploy.Tests;

/// <summary>
/// UNetCluster:Cluster:Kubernetes really switches Orleans' Kubernetes hosting on: outside a pod (no in-cluster API
/// configuration) the silo refuses to start, saying why. This is also why the local run of the manifests turns it off.
/// </summary>
[Trait("Category", "Deploy")]
public sealed class KubernetesHostingTests
{
    [Fact]
    public void SiloProcess_KubernetesSwitchOutsideAPod_FailsToStartNamingTheInClusterConfiguration()
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = AppContext.BaseDirectory };
        start.ArgumentList.Add("UNetCluster.Silo.dll");
        foreach (var (key, value) in new Dictionary<string, string>
        {
            ["UNetCluster__Cluster__Kubernetes"] = "true",
            ["UNetCluster__Cluster__DataPlaneSecret"] = "a-secret-as-the-pod-gets-it-from-its-Secret",
            ["POD_NAME"] = "unetcluster-silo-0",
            ["POD_NAMESPACE"] = "unetcluster",
            ["POD_IP"] = "127.0.0.1",
            ["UNetCluster__Cluster__SiloPort"] = LoopbackPorts.Next().ToString(CultureInfo.InvariantCulture),
            ["UNetCluster__Cluster__GatewayPort"] = LoopbackPorts.Next().ToString(CultureInfo.InvariantCulture),
            ["UNetCluster__Http__Urls"] = $"http://127.0.0.1:{LoopbackPorts.Next()}",
            ["UNetCluster__Storage__Root"] = Path.Combine(Path.GetTempPath(), "unetcluster-tests", "k8s-" + Guid.NewGuid().ToString("N")),
            ["UNetCluster__Worker__Threads"] = "1",
        })
        {
            start.Environment[key] = value;
        }

        using var silo = new ChildProcess("silo with UNetCluster:Cluster:Kubernetes", start);

        Assert.True(silo.Process.WaitForExit(TimeSpan.FromSeconds(120)), $"the silo kept running without a Kubernetes API:\n{silo.Output}");
        silo.Process.WaitForExit();   // and its output has been read to the end
        Assert.NotEqual(0, silo.Process.ExitCode);
        Assert.Contains("Unable to load in-cluster configuration", silo.Output, StringComparison.Ordinal);
    }
}
