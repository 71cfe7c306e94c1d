using Microsoft.Extensions.Configuration;
using Orleans.TestingHost;
using UNetCluster.Contracts.Grains;
using UNetCluster.Contracts.Jobs;
using UNetCluster.Silo.Hosting;

namespace UNetCluster.Silo.Tests;

/// <summary>An in-process Orleans test cluster of three silos with UNetCluster's grains, started once for the tests.</summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    public const int Silos = 3;

    public ClusterFixture()
    {
        StorageRoot = Path.Combine(Path.GetTempPath(), "unetcluster-tests", "silo-" + Guid.NewGuid().ToString("N"));
        var builder = new TestClusterBuilder(Silos);
        builder.ConfigureHostConfiguration(c => c.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["UNetCluster:Storage:Root"] = StorageRoot,
            ["UNetCluster:Worker:Threads"] = "1",
            // Not the default: these in-process silos cover sending during the backward pass (the equivalence and
            // repeat tests), the end-to-end silo processes the default (after it).
            ["UNetCluster:Worker:SendDuringBackward"] = "true",
            ["UNetCluster:Cluster:DataPlaneSecret"] = DataPlaneSecret,
        }));
        builder.AddSiloBuilderConfigurator<SiloConfigurator>();
        Cluster = builder.Build();
    }

    public TestCluster Cluster { get; }

    public string StorageRoot { get; }

    /// <summary>The secret every silo's data plane is configured with, as a deployment sets it.</summary>
    public string DataPlaneSecret { get; } = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    public IJobRegistryGrain Registry => Cluster.GrainFactory.GetGrain<IJobRegistryGrain>(0);

    /// <summary>The services of silo <paramref name="index"/> (0: the primary), for tests that reach a silo's seams.</summary>
    public IServiceProvider Services(int index) =>
        ((InProcessSiloHandle)(index == 0 ? Cluster.Primary! : Cluster.SecondarySilos[index - 1])).SiloHost!.Services;

    public async ValueTask InitializeAsync() => await Cluster.DeployAsync();

    public async ValueTask DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
    }

    /// <summary>Submits a job and waits until it is finished (or fails the test after <paramref name="timeout"/>).</summary>
    public async Task<JobStatus> RunAsync(JobSpec spec, string jobId, TimeSpan? timeout = null)
    {
        var result = await Registry.SubmitAsync(spec, jobId);
        Assert.True(result.Accepted, string.Join("; ", result.Errors));
        return await WaitAsync(jobId, timeout);
    }

    public async Task<JobStatus> WaitAsync(string jobId, TimeSpan? timeout = null)
    {
        var job = Cluster.GrainFactory.GetGrain<ITrainingJobGrain>(jobId);
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromMinutes(5));
        while (true)
        {
            var status = await job.GetStatusAsync();
            if (status.IsFinished)
            {
                return status;
            }

            Assert.True(DateTime.UtcNow < deadline, $"job {jobId} did not finish: {status}");
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
    }

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            var options = siloBuilder.Configuration.GetSection(UNetSiloOptions.Section).Get<UNetSiloOptions>() ?? new UNetSiloOptions();
            siloBuilder.AddUNetServices(options);
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ClusterTests : ICollectionFixture<ClusterFixture>
{
    public const string Name = "cluster";
}
