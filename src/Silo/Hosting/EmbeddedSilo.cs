using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using UNetCluster.Silo.Hosting;
using UNetCluster.Training.Settings;

namespace UNetCluster.Silo;

/// <summary>
/// The one entry point for hosting the silo inside another process: <c>unet train</c>'s embedded single silo runs the
/// same grains and engine as a cluster's silo process, configured by the training wing's settings records.
/// </summary>
public static class EmbeddedSilo
{
    /// <summary>Adds a silo with UNetCluster's grains to <paramref name="builder"/>; <paramref name="cluster"/> must use localhost clustering.</summary>
    public static TBuilder AddEmbeddedSilo<TBuilder>(this TBuilder builder, ClusterSettings cluster, StorageSettings storage, DataSettings data, WorkerSettings? worker = null)
        where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = new UNetSiloOptions { Cluster = cluster, Storage = storage, Data = data, Worker = worker ?? new() };
        builder.Services.AddSingleton(Options.Create(options));
        builder.UseOrleans(silo => silo.AddUNetGrains(options));
        return builder;
    }
}
