using System.Net;
using Azure.Data.Tables;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Dashboard;
using StackExchange.Redis;
using UNetCluster.Data.Storage;
using UNetCluster.Silo.Engines;
using UNetCluster.Silo.Jobs;
using UNetCluster.Silo.Placement;
using UNetCluster.Training.Jobs;
using UNetCluster.Training.Settings;
using UNetCluster.Training.Transport;
using UNetCluster.Training.Worker;

namespace UNetCluster.Silo.Hosting;

/// <summary>Silo set-up: configuration, clustering, the training engine and the job services.</summary>
public static class SiloHostingExtensions
{
    /// <summary>Adds the Orleans silo with UNetCluster's grains to the host, configured from <c>UNetCluster:*</c>.</summary>
    public static TBuilder AddUNetSilo<TBuilder>(this TBuilder builder)
        where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = UNetSiloOptionsValidator.Read(builder.Configuration);   // a bad setting stops the silo here, named
        builder.Services.AddSingleton(Options.Create(options));
        builder.UseOrleans(silo =>
        {
            silo.AddUNetGrains(options);
            silo.AddActivityPropagation();
            if (options.Http.OrleansDashboard)
            {
                silo.AddDashboard();
            }
        });
        return builder;
    }

    /// <summary>Configures a silo builder: clustering (localhost, Redis or an Azure Storage table), endpoints, timeouts, placement and the UNetCluster services.</summary>
    public static ISiloBuilder AddUNetGrains(this ISiloBuilder silo, UNetSiloOptions options)
    {
        ArgumentNullException.ThrowIfNull(silo);
        ArgumentNullException.ThrowIfNull(options);
        var cluster = options.Cluster;
        silo.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = cluster.ClusterId;
            o.ServiceId = cluster.ServiceId;
        });
        switch (cluster.Clustering)
        {
            case ClusteringKind.Redis:
                var redis = cluster.Redis ?? throw new OptionsValidationException(
                    "UNetCluster:Cluster:Redis", typeof(ClusterSettings), ["UNetCluster:Cluster:Clustering is Redis but UNetCluster:Cluster:Redis (a connection string such as 127.0.0.1:6379) is not set."]);
                silo.UseRedisClustering(o => o.ConfigurationOptions = ConfigurationOptions.Parse(redis));
                silo.ConfigureEndpoints(IPAddress.Parse(cluster.AdvertisedAddress), cluster.SiloPort, cluster.GatewayPort, listenOnAnyHostAddress: false);
                break;
            case ClusteringKind.AzureTable:
                var tables = MembershipTable(cluster);
                silo.UseAzureStorageClustering(o =>
                {
                    o.TableServiceClient = tables;
                    o.TableName = cluster.AzureTableName;
                });
                silo.ConfigureEndpoints(IPAddress.Parse(cluster.AdvertisedAddress), cluster.SiloPort, cluster.GatewayPort, listenOnAnyHostAddress: false);
                break;
            default:
                silo.UseLocalhostClustering(cluster.SiloPort, cluster.GatewayPort, serviceId: cluster.ServiceId, clusterId: cluster.ClusterId);
                break;
        }

        if (cluster.Kubernetes)
        {
            silo.UseKubernetesHosting();
        }

        silo.Configure<ClusterMembershipOptions>(o =>
        {
            o.ProbeTimeout = TimeSpan.FromSeconds(cluster.ProbeTimeoutSeconds);
            o.NumMissedProbesLimit = cluster.MissedProbesLimit;
        });
        return silo.AddUNetServices(options);
    }

    /// <summary>
    /// The table service of <see cref="ClusteringKind.AzureTable"/> membership: by connection string
    /// (<c>UNetCluster:Cluster:AzureTable</c>) or by the service URI and Azure AD identity (<c>AzureTableUri</c>).
    /// </summary>
    public static TableServiceClient MembershipTable(ClusterSettings cluster)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        return string.IsNullOrWhiteSpace(cluster.AzureTable)
            ? MembershipTable(new Uri(cluster.AzureTableUri ?? throw new OptionsValidationException(
                "UNetCluster:Cluster:AzureTable", typeof(ClusterSettings), ["UNetCluster:Cluster:Clustering is AzureTable but neither UNetCluster:Cluster:AzureTable nor AzureTableUri is set."])))
            : MembershipTable(cluster.AzureTable);
    }

    /// <summary>The membership table service of a storage account's connection string (silos and the CLI's --azure-table alike).</summary>
    public static TableServiceClient MembershipTable(string connectionString) => new(connectionString, new TableClientOptions());

    /// <summary>The membership table service at its URI (https://&lt;account&gt;.table.core.windows.net), reached by Azure AD identity.</summary>
    public static TableServiceClient MembershipTable(Uri serviceUri) => new(serviceUri, AzureIdentity.DefaultCredential(), new TableClientOptions());

    /// <summary>The grains' services and settings without clustering (a test cluster brings its own).</summary>
    public static ISiloBuilder AddUNetServices(this ISiloBuilder silo, UNetSiloOptions options)
    {
        ArgumentNullException.ThrowIfNull(silo);
        ArgumentNullException.ThrowIfNull(options);
        var cluster = options.Cluster;
        silo.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(cluster.ResponseTimeoutSeconds));
        silo.Services.AddPlacementDirector<SiloBoundPlacement, SiloBoundPlacementDirector>();

        // The strongly consistent grain directory keeps a job's coordinator to one activation when a silo dies (DESIGN.md).
#pragma warning disable ORLEANSEXP003 // evaluation API in Orleans 10.4; the default directory gives duplicate coordinators
        silo.AddDistributedGrainDirectory();
#pragma warning restore ORLEANSEXP003
        silo.Services.AddSingleton(Options.Create(options));
        silo.Services.AddSingleton(options.Cluster);
        silo.Services.AddSingleton(options.Storage);
        silo.Services.AddSingleton(options.Data);
        silo.Services.AddSingleton(options.Worker);
        silo.Services.AddSingleton<DataCatalog>();
        silo.Services.AddSingleton<JobSpecValidator>();
        silo.Services.AddSingleton<PredictionSpecValidator>();
        silo.Services.AddSingleton<JobStorage>();
        silo.Services.AddSingleton<JobRecordStore>();
        silo.Services.AddHostedService<JobKeeper>();
        // Resolved now, so that a silo others can reach without a data-plane secret fails to start, naming the setting.
        silo.Services.AddSingleton(new DataPlaneKey(cluster));
        silo.Services.AddSingleton<DataPlaneServer>();
        silo.Services.AddHostedService(sp => sp.GetRequiredService<DataPlaneServer>());
        silo.Services.AddSingleton<DataPlaneClient>();
        silo.Services.AddSingleton<IBucketTransport, BucketTransport>();
        silo.Services.AddSingleton<BucketExchange>();
        silo.Services.AddSingleton<TorchThread>();
        silo.Services.AddSingleton<StepRunner>();
        silo.Services.AddSingleton<WorkerFaults>();   // a test seam: empty unless a test sets it
        silo.Services.AddSingleton<Restorer>();
        silo.Services.AddSingleton<CheckpointCapture>();
        silo.Services.AddSingleton<Validator>();
        silo.Services.AddSingleton<UnitRunner>();
        silo.Services.AddSingleton<WorkerEngine>();
        silo.Services.AddHostedService(sp => sp.GetRequiredService<WorkerEngine>());
        return silo;
    }
}
