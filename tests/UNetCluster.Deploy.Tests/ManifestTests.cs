using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using UNetCluster.Silo.Hosting;
using UNetCluster.Training.Settings;
using UNetCluster.Training.Transport;

namespace UNetCluster.Deploy.Tests;

/// <summary>deploy/k8s rendered by kubectl kustomize, validated against the Kubernetes API schema and checked against the silo's code.</summary>
[Trait("Category", "Deploy")]
public sealed class ManifestTests
{
    public static readonly TheoryData<string> Kustomizations = [.. Manifests.Kustomizations];

    public static readonly TheoryData<string> SiloKustomizations = ["base", "overlays/dev", "overlays/gpu", "overlays/azure"];

    private static readonly Dictionary<string, string> PodFields = new()
    {
        ["metadata.name"] = "unetcluster-silo-7d9f-abcde",
        ["metadata.namespace"] = "unetcluster",
        ["status.podIP"] = "10.244.1.17",
    };

    private static readonly Dictionary<(string, string), string> Secrets = new()
    {
        [("unetcluster-secrets", "blob-connection-string")] = "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.windows.net",
        [("unetcluster-secrets", "api-token")] = "token-from-the-secret",
        [("unetcluster-secrets", "data-plane-secret")] = "data-plane-secret-from-the-secret",
    };

    [Theory]
    [MemberData(nameof(Kustomizations))]
    public void KubectlKustomize_Kustomization_RendersNamespacedObjects(string kustomization)
    {
        var objects = Manifests.Objects(kustomization);

        Assert.NotEmpty(objects);
        foreach (var o in objects)
        {
            Assert.False(string.IsNullOrEmpty(Manifests.Name(o)));
            if (o.GetProperty("kind").GetString() != "Namespace")
            {
                Assert.Equal("unetcluster", o.GetProperty("metadata").GetProperty("namespace").GetString());
            }
        }
    }

    [Theory]
    [MemberData(nameof(Kustomizations))]
    public void Validate_RenderedKustomization_EveryObjectPassesTheKubernetesSchema(string kustomization)
    {
        var yaml = Manifests.Render(kustomization);
        var count = Manifests.Parse(yaml).Count;

        var (code, report) = Manifests.Validate(yaml);

        Assert.True(code == 0, report);
        Assert.Contains($"{count} valid, 0 invalid", report, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("replicas: 2", "replicas: two", "replicas must be integer")]
    [InlineData("terminationGracePeriodSeconds: 60", "terminationGracePeriodSeconds: soon", "terminationGracePeriodSeconds must be integer")]
    [InlineData("kind: NetworkPolicy", "kind: NetworkPolicyy", "unknown apiVersion/kind networking.k8s.io/v1/NetworkPolicyy")]
    [InlineData("- name: UNetCluster__Http__Token", "- nme: UNetCluster__Http__Token", "env/5 must have required property name")]
    public void Validate_DeliberatelyBrokenObject_IsRejected(string valid, string broken, string reason)
    {
        var yaml = Manifests.Render("overlays/dev");
        Assert.Contains(valid, yaml, StringComparison.Ordinal);

        var at = yaml.IndexOf(valid, StringComparison.Ordinal);   // the first object that has it, only

        var (code, report) = Manifests.Validate(string.Concat(yaml.AsSpan(0, at), broken, yaml.AsSpan(at + valid.Length)));

        Assert.Equal(1, code);
        Assert.Contains(reason, report, StringComparison.Ordinal);
        Assert.Contains("1 invalid", report, StringComparison.Ordinal);
    }

    [Fact]
    public void OptionKeys_Reflection_FindsTheSilosKeysAndNoOthers()
    {
        Assert.Contains("UNetCluster__Cluster__Kubernetes", OptionKeys.EnvironmentNames);
        Assert.Contains("UNetCluster__Storage__Blob", OptionKeys.EnvironmentNames);
        Assert.Contains("UNetCluster__Data__DataSets__*__Images", OptionKeys.EnvironmentNames);
        Assert.True(OptionKeys.IsOption("UNetCluster__Data__DataSets__em__Masks"));
        Assert.False(OptionKeys.IsOption("UNetCluster__Cluster__SiloPrt"));
        Assert.False(OptionKeys.IsOption("UNetCluster__Cluster"));
    }

    [Theory]
    [MemberData(nameof(SiloKustomizations))]
    public void SiloEnvironment_EveryUNetClusterVariable_IsAnOptionTheSiloReads(string kustomization)
    {
        var objects = Manifests.Objects(kustomization);
        var names = PodEnvironment.Names(Manifests.Container(Manifests.Find(objects, "Deployment", "unetcluster-silo"), "silo"), objects);

        var options = names.Where(n => n.StartsWith("UNetCluster__", StringComparison.Ordinal)).ToList();

        Assert.NotEmpty(options);
        Assert.All(options, n => Assert.True(OptionKeys.IsOption(n), $"{n} in deploy/k8s/{kustomization} is not a key the silo reads"));
        Assert.All(names.Where(n => !n.StartsWith("UNetCluster__", StringComparison.Ordinal)),
            n => Assert.Contains(n, new[] { "POD_NAME", "POD_NAMESPACE", "POD_IP" }));
    }

    [Theory]
    [MemberData(nameof(SiloKustomizations))]
    public void SiloEnvironment_BoundAsTheSiloBindsIt_IsAKubernetesClusterOnThePodIpWithItsMembershipAndStorage(string kustomization)
    {
        var objects = Manifests.Objects(kustomization);
        var options = SiloOptions(objects);

        Assert.True(options.Cluster.Kubernetes);
        Assert.Equal(PodFields["status.podIP"], options.Cluster.AdvertisedAddress);
        Assert.Equal(Secrets[("unetcluster-secrets", "api-token")], options.Http.Token);
        Assert.Equal(Secrets[("unetcluster-secrets", "data-plane-secret")], options.Cluster.DataPlaneSecret);
        Assert.NotNull(new DataPlaneKey(options.Cluster));   // what a silo with the data plane on requires
        if (kustomization == "overlays/azure")
        {
            // Membership in the storage account's table and blobs by the pod's identity: no connection string, no Redis.
            Assert.Equal(ClusteringKind.AzureTable, options.Cluster.Clustering);
            Assert.Null(options.Cluster.AzureTable);
            Assert.Equal("https", new Uri(options.Cluster.AzureTableUri!).Scheme);
            Assert.Null(options.Storage.Blob);
            Assert.Equal(new Uri(options.Cluster.AzureTableUri!).Host.Replace(".table.", ".blob.", StringComparison.Ordinal), new Uri(options.Storage.BlobUri!).Host);
            Assert.DoesNotContain(objects, o => Manifests.Name(o) == "redis");
            return;
        }

        Assert.Equal(ClusteringKind.Redis, options.Cluster.Clustering);
        Assert.Equal(Secrets[("unetcluster-secrets", "blob-connection-string")], options.Storage.Blob);

        // The Redis the silos use is a Service of the rendered objects.
        var (host, port) = HostPort(options.Cluster.Redis!);
        var redis = Manifests.Find(objects, "Service", host);
        Assert.Contains(redis.GetProperty("spec").GetProperty("ports").EnumerateArray(), p => p.GetProperty("port").GetInt32() == port);
    }

    [Fact]
    public void AzureOverlay_SiloPods_UseWorkloadIdentityThroughTheirServiceAccount()
    {
        var objects = Manifests.Objects("overlays/azure");
        var silo = Manifests.Find(objects, "Deployment", "unetcluster-silo");
        var template = silo.GetProperty("spec").GetProperty("template");

        // The label the workload identity webhook injects the federated token for, and the managed identity it is for.
        Assert.Equal("true", template.GetProperty("metadata").GetProperty("labels").GetProperty("azure.workload.identity/use").GetString());
        var account = Manifests.PodSpec(silo).GetProperty("serviceAccountName").GetString()!;
        var annotations = Manifests.Find(objects, "ServiceAccount", account).GetProperty("metadata").GetProperty("annotations");
        Assert.True(Guid.TryParse(annotations.GetProperty("azure.workload.identity/client-id").GetString(), out _));
        Assert.DoesNotContain(PodEnvironment.Names(Manifests.Container(silo, "silo"), objects), n => n == "UNetCluster__Storage__Blob");
    }

    [Theory]
    [MemberData(nameof(SiloKustomizations))]
    public void SiloPorts_ContainerPortsServicesAndProbes_AreTheOnesTheSiloServes(string kustomization)
    {
        var objects = Manifests.Objects(kustomization);
        var options = SiloOptions(objects);
        var silo = Manifests.Find(objects, "Deployment", "unetcluster-silo");
        var container = Manifests.Container(silo, "silo");
        var ports = container.GetProperty("ports").EnumerateArray()
            .ToDictionary(p => p.GetProperty("name").GetString()!, p => p.GetProperty("containerPort").GetInt32());

        Assert.Equal(options.Cluster.SiloPort, ports["silo"]);
        Assert.Equal(options.Cluster.GatewayPort, ports["gateway"]);
        Assert.True(options.Cluster.DataPlane);
        Assert.Equal(options.Cluster.DataPort, ports["data"]);   // fixed, not 0 (a free port): the network policy names it
        Assert.Equal(new Uri(options.Http.Urls.Split(';')[0]).Port, ports["http"]);
        Assert.Equal("0.0.0.0", new Uri(options.Http.Urls.Split(';')[0]).Host);   // reachable from the kubelet and Services

        Assert.Equal(HealthExtensions.StartupPath, Probe(container, "startupProbe", ports));
        Assert.Equal(HealthExtensions.ReadyPath, Probe(container, "readinessProbe", ports));
        Assert.Equal(HealthExtensions.LivePath, Probe(container, "livenessProbe", ports));

        var gateway = Manifests.Find(objects, "Service", "unetcluster-gateway").GetProperty("spec");
        Assert.Equal("ClusterIP", gateway.GetProperty("type").GetString());
        Assert.Equal("gateway", gateway.GetProperty("ports")[0].GetProperty("targetPort").GetString());
        Assert.Equal(options.Cluster.GatewayPort, gateway.GetProperty("ports")[0].GetProperty("port").GetInt32());
        var http = Manifests.Find(objects, "Service", "unetcluster-http").GetProperty("spec");
        Assert.Equal("http", http.GetProperty("ports")[0].GetProperty("targetPort").GetString());
        var labels = silo.GetProperty("spec").GetProperty("template").GetProperty("metadata").GetProperty("labels");
        foreach (var selector in new[] { gateway, http }.Select(s => s.GetProperty("selector")))
        {
            Assert.All(selector.EnumerateObject(), s => Assert.Equal(s.Value.GetString(), labels.GetProperty(s.Name).GetString()));
        }
    }

    [Theory]
    [MemberData(nameof(SiloKustomizations))]
    public void SiloPod_OrleansLabelsAndTheSubmitJob_NameTheSilosCluster(string kustomization)
    {
        var objects = Manifests.Objects(kustomization);
        var options = SiloOptions(objects);
        var labels = Manifests.Find(objects, "Deployment", "unetcluster-silo").GetProperty("spec").GetProperty("template")
            .GetProperty("metadata").GetProperty("labels");

        Assert.Equal(options.Cluster.ClusterId, labels.GetProperty("orleans/clusterId").GetString());
        Assert.Equal(options.Cluster.ServiceId, labels.GetProperty("orleans/serviceId").GetString());

        // The CLI uses its --cluster-id as both the cluster and the service id (src/Client/Cluster/ClusterConnection.cs).
        var submit = Manifests.Objects("submit");
        var job = Manifests.Find(submit, "Job", "unet-submit");
        var env = PodEnvironment.Resolve(Manifests.Container(job, "unet"), submit, PodFields, Secrets);
        Assert.Equal(options.Cluster.ClusterId, env["UNET_CLUSTER_ID"]);
        Assert.Equal(options.Cluster.ServiceId, env["UNET_CLUSTER_ID"]);
        if (options.Cluster.Clustering == ClusteringKind.Redis)
        {
            Assert.Equal(options.Cluster.Redis, env["UNET_REDIS"]);   // the azure overlay's CLI takes UNET_AZURE_TABLE instead (README.md)
        }
    }

    [Theory]
    [MemberData(nameof(SiloKustomizations))]
    public void SiloPod_TerminationGracePeriod_IsLongerThanTheHostsShutdownTimeout(string kustomization)
    {
        var silo = Manifests.Find(Manifests.Objects(kustomization), "Deployment", "unetcluster-silo");
        var grace = TimeSpan.FromSeconds(Manifests.PodSpec(silo).GetProperty("terminationGracePeriodSeconds").GetInt32());

        // The silo does not change HostOptions (src/Silo/Program.cs), so .NET's default shutdown timeout applies.
        Assert.True(grace > new HostOptions().ShutdownTimeout + TimeSpan.FromSeconds(10), $"{grace} vs {new HostOptions().ShutdownTimeout}");
    }

    [Theory]
    [MemberData(nameof(Kustomizations))]
    public void Secrets_NoValue_IsCommitted(string kustomization)
    {
        var objects = Manifests.Objects(kustomization);

        Assert.DoesNotContain(objects, o => o.GetProperty("kind").GetString() == "Secret");
        Assert.DoesNotContain("AccountKey=", Manifests.Render(kustomization), StringComparison.Ordinal);
    }

    [Fact]
    public void Rbac_SiloServiceAccount_MayWatchAndDeletePods()
    {
        var objects = Manifests.Objects("base");
        var silo = Manifests.Find(objects, "Deployment", "unetcluster-silo");
        var account = Manifests.PodSpec(silo).GetProperty("serviceAccountName").GetString()!;
        Manifests.Find(objects, "ServiceAccount", account);
        var binding = objects.Single(o => o.GetProperty("kind").GetString() == "RoleBinding" &&
            o.GetProperty("subjects").EnumerateArray().Any(s => s.GetProperty("name").GetString() == account));
        var role = Manifests.Find(objects, "Role", binding.GetProperty("roleRef").GetProperty("name").GetString()!);

        var rule = role.GetProperty("rules").EnumerateArray().Single(r => r.GetProperty("resources").EnumerateArray().Any(x => x.GetString() == "pods"));
        var verbs = rule.GetProperty("verbs").EnumerateArray().Select(v => v.GetString()).ToHashSet();
        Assert.Superset(new HashSet<string?> { "get", "list", "watch", "delete", "patch" }, verbs);
    }

    [Fact]
    public void NetworkPolicy_SiloAndDataPorts_OpenOnlyBetweenSilosAndTheGatewayOnlyInsideTheNamespace()
    {
        var objects = Manifests.Objects("base");
        var policy = Manifests.Find(objects, "NetworkPolicy", "unetcluster-silo").GetProperty("spec");
        var siloLabels = policy.GetProperty("podSelector").GetProperty("matchLabels");
        var rules = policy.GetProperty("ingress").EnumerateArray().ToList();
        string[] PortsOf(JsonElement rule) => [.. rule.GetProperty("ports").EnumerateArray().Select(p => p.GetProperty("port").ToString())];

        var siloRules = rules.Where(r => PortsOf(r).Contains("silo") || PortsOf(r).Contains("data")).ToList();
        var siloRule = Assert.Single(siloRules);
        Assert.Equal(["silo", "data"], PortsOf(siloRule));   // Orleans messages and the data plane's buckets
        var from = Assert.Single(siloRule.GetProperty("from").EnumerateArray());
        Assert.Equal(["podSelector"], from.EnumerateObject().Select(p => p.Name));
        Assert.Equal(siloLabels.ToString(), from.GetProperty("podSelector").GetProperty("matchLabels").ToString());

        var gatewayRule = Assert.Single(rules, r => PortsOf(r).Contains("gateway"));
        Assert.All(gatewayRule.GetProperty("from").EnumerateArray(), f => Assert.Equal(["podSelector"], f.EnumerateObject().Select(p => p.Name)));
        Assert.Equal("Ingress", Assert.Single(policy.GetProperty("policyTypes").EnumerateArray()).GetString());
    }

    [Fact]
    public void GpuOverlay_Silo_RequestsAGpuOnGpuNodesWithTheCudaImage()
    {
        var silo = Manifests.Find(Manifests.Objects("overlays/gpu"), "Deployment", "unetcluster-silo");
        var spec = Manifests.PodSpec(silo);
        var container = Manifests.Container(silo, "silo");

        Assert.Equal("1", container.GetProperty("resources").GetProperty("limits").GetProperty("nvidia.com/gpu").GetString());
        Assert.Equal("1", container.GetProperty("resources").GetProperty("requests").GetProperty("nvidia.com/gpu").GetString());
        Assert.Equal("true", spec.GetProperty("nodeSelector").GetProperty("nvidia.com/gpu.present").GetString());
        Assert.Contains(spec.GetProperty("tolerations").EnumerateArray(), t => t.GetProperty("key").GetString() == "nvidia.com/gpu");
        Assert.EndsWith(":cuda", container.GetProperty("image").GetString(), StringComparison.Ordinal);
        Assert.Equal("cuda", Dockerfile.Read(container.GetProperty("image").GetString()!).Target);
        var settings = Manifests.Objects("overlays/gpu").Where(o => o.GetProperty("kind").GetString() == "ConfigMap" && Manifests.Name(o).StartsWith("unetcluster-silo", StringComparison.Ordinal));
        Assert.Equal("cuda", Assert.Single(settings).GetProperty("data").GetProperty("UNetCluster__Worker__Device").GetString());   // refused at start where the GPU is unreachable
    }

    [Fact]
    public void DevOverlay_AzuriteAndRedis_RunInTheNamespaceWithTheCpuImage()
    {
        var objects = Manifests.Objects("overlays/dev");
        var silo = Manifests.Find(objects, "Deployment", "unetcluster-silo");

        Manifests.Find(objects, "Service", "azurite");
        Manifests.Find(objects, "Service", "redis");
        Assert.EndsWith(":cpu", Manifests.Container(silo, "silo").GetProperty("image").GetString(), StringComparison.Ordinal);
        Assert.False(Manifests.Container(silo, "silo").GetProperty("resources").GetProperty("limits").TryGetProperty("nvidia.com/gpu", out _));
    }

    [Theory]
    [InlineData("unetcluster/silo:cpu")]
    [InlineData("unetcluster/silo:cuda")]
    [InlineData("unetcluster/unet:cpu")]
    [InlineData("unetcluster/unet:cuda")]
    public void Dockerfile_ImageStage_RunsTheBuiltEntrypointAsANonRootUser(string image)
    {
        var stage = Dockerfile.Read(image);

        Assert.NotNull(stage.User);
        Assert.NotEqual("root", stage.User);
        Assert.NotEqual("0", stage.User);
        Assert.Equal("dotnet", stage.Entrypoint[0]);
        Assert.True(File.Exists(Path.Combine(AppContext.BaseDirectory, stage.Entrypoint[1])), $"{stage.Entrypoint[1]} is not a build output");
        if (image.Contains("/silo:", StringComparison.Ordinal))
        {
            var silo = Manifests.Container(Manifests.Find(Manifests.Objects("base"), "Deployment", "unetcluster-silo"), "silo");
            var ports = silo.GetProperty("ports").EnumerateArray().Select(p => p.GetProperty("containerPort").GetInt32()).Order();
            Assert.Equal(ports, stage.Exposed.Order());
        }
    }

    [Theory]
    [MemberData(nameof(SiloKustomizations))]
    public void SiloPods_DisruptionBudget_LetsOneSiloOfTheDeploymentGoAtATime(string kustomization)
    {
        var objects = Manifests.Objects(kustomization);
        var labels = PodLabels(objects);
        var budget = Manifests.Find(objects, "PodDisruptionBudget", "unetcluster-silo").GetProperty("spec");

        Assert.Equal(1, budget.GetProperty("maxUnavailable").GetInt32());
        Assert.False(budget.TryGetProperty("minAvailable", out _));
        Assert.All(budget.GetProperty("selector").GetProperty("matchLabels").EnumerateObject(), s => Assert.Equal(s.Value.GetString(), labels.GetProperty(s.Name).GetString()));
        var rollout = Manifests.Find(objects, "Deployment", "unetcluster-silo").GetProperty("spec").GetProperty("strategy").GetProperty("rollingUpdate");
        Assert.Equal(1, rollout.GetProperty("maxUnavailable").GetInt32());   // drains and rollouts take silos away alike
    }

    [Theory]
    [MemberData(nameof(SiloKustomizations))]
    public void SiloPod_PrometheusAnnotations_PointAtTheMetricsEndpointOnTheHttpPort(string kustomization)
    {
        var objects = Manifests.Objects(kustomization);
        var silo = Manifests.Find(objects, "Deployment", "unetcluster-silo");
        var annotations = silo.GetProperty("spec").GetProperty("template").GetProperty("metadata").GetProperty("annotations");
        var http = Manifests.Container(silo, "silo").GetProperty("ports").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "http");

        Assert.Equal("true", annotations.GetProperty("prometheus.io/scrape").GetString());
        Assert.Equal(http.GetProperty("containerPort").GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture), annotations.GetProperty("prometheus.io/port").GetString());
        Assert.Equal("/metrics", annotations.GetProperty("prometheus.io/path").GetString());   // MapPrometheusScrapingEndpoint's path (HttpExtensions)
        Assert.Equal(new Uri(SiloOptions(objects).Http.Urls.Split(';')[0]).Port, http.GetProperty("containerPort").GetInt32());
    }

    [Theory]
    [MemberData(nameof(SiloKustomizations))]
    public void SiloPod_TopologySpread_SpreadsTheSilosOverNodesWithoutBlockingAOneNodeCluster(string kustomization)
    {
        var objects = Manifests.Objects(kustomization);
        var labels = PodLabels(objects);
        var spread = Assert.Single(Manifests.PodSpec(Manifests.Find(objects, "Deployment", "unetcluster-silo")).GetProperty("topologySpreadConstraints").EnumerateArray());

        Assert.Equal("kubernetes.io/hostname", spread.GetProperty("topologyKey").GetString());
        Assert.Equal(1, spread.GetProperty("maxSkew").GetInt32());
        Assert.Equal("ScheduleAnyway", spread.GetProperty("whenUnsatisfiable").GetString());
        Assert.All(spread.GetProperty("labelSelector").GetProperty("matchLabels").EnumerateObject(), s => Assert.Equal(s.Value.GetString(), labels.GetProperty(s.Name).GetString()));
    }

    [Theory]
    [InlineData("silo", "src/Silo/UNetCluster.Silo.csproj")]
    [InlineData("unet", "src/Client/UNetCluster.Client.csproj")]
    public void Dockerfile_SourceStage_RestoresFromTheProjectFilesAloneBeforeCopyingTheSources(string image, string project)
    {
        var instructions = Dockerfile.StageInstructions(image, "source");
        var restore = instructions.ToList().FindIndex(i => i == $"RUN dotnet restore {project}");
        var sources = instructions.ToList().IndexOf("COPY . .");
        Assert.True(restore >= 0 && restore < sources, string.Join("\n", instructions));

        var copied = instructions.Take(restore).Where(i => i.StartsWith("COPY ", StringComparison.Ordinal))
            .SelectMany(i => i.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..^1]).ToHashSet(StringComparer.Ordinal);
        Assert.All(copied, f => Assert.Matches(@"(\.csproj|\.props|\.targets|global\.json)$", f));   // a source change leaves the layer as it is
        var needed = ProjectClosure(project).Concat(["global.json", "Directory.Build.props", "Directory.Packages.props"]);
        Assert.All(needed, f => Assert.Contains(f, copied));
        // The CPU build publishes from that restore (the CUDA build restores its own packages, -p:UNetGpu=true).
        Assert.Contains(Dockerfile.StageInstructions(image, "build"), i => i.StartsWith($"RUN dotnet publish {project} ", StringComparison.Ordinal) && i.Contains(" --no-restore ", StringComparison.Ordinal));
    }

    /// <summary>A project and every project it references, directly or not, as paths from the repository root.</summary>
    private static HashSet<string> ProjectClosure(string project)
    {
        var found = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>([project]);
        while (pending.TryPop(out var next))
        {
            if (!found.Add(next))
            {
                continue;
            }

            var directory = Path.GetDirectoryName(next)!;
            foreach (var reference in System.Xml.Linq.XDocument.Load(Path.Combine(Manifests.RepositoryRoot, next)).Descendants("ProjectReference"))
            {
                var full = Path.GetFullPath(Path.Combine(Manifests.RepositoryRoot, directory, reference.Attribute("Include")!.Value.Replace('\\', '/')));
                pending.Push(Path.GetRelativePath(Manifests.RepositoryRoot, full).Replace('\\', '/'));
            }
        }

        return found;
    }

    private static JsonElement PodLabels(IReadOnlyList<JsonElement> objects) =>
        Manifests.Find(objects, "Deployment", "unetcluster-silo").GetProperty("spec").GetProperty("template").GetProperty("metadata").GetProperty("labels");

    internal static UNetSiloOptions SiloOptions(IReadOnlyList<JsonElement> objects)
    {
        var container = Manifests.Container(Manifests.Find(objects, "Deployment", "unetcluster-silo"), "silo");
        var env = PodEnvironment.Resolve(container, objects, PodFields, Secrets);

        // What the host's environment-variable configuration provider does with UNetCluster__Section__Key.
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(env.Select(e => KeyValuePair.Create(e.Key.Replace("__", ":", StringComparison.Ordinal), (string?)e.Value)))
            .Build();
        return UNetSiloOptionsValidator.Read(configuration);   // as the silo reads them: a setting it refuses fails here, named
    }

    private static string Probe(JsonElement container, string probe, Dictionary<string, int> ports)
    {
        var get = container.GetProperty(probe).GetProperty("httpGet");
        Assert.True(ports.ContainsKey(get.GetProperty("port").GetString()!), $"{probe} port");
        Assert.Equal("http", get.GetProperty("port").GetString());
        return get.GetProperty("path").GetString()!;
    }

    private static (string Host, int Port) HostPort(string address)
    {
        var colon = address.LastIndexOf(':');
        return (address[..colon], int.Parse(address[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }
}
