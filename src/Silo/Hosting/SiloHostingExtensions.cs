using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

namespace UNetCluster.Silo.Hosting;

/// <summary>Silo set-up. For now a single silo with localhost clustering; the cluster issue adds Redis and grains.</summary>
public static class SiloHostingExtensions
{
    public static HostApplicationBuilder AddUNetSilo(this HostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.UseOrleans(silo => silo.UseLocalhostClustering(
            siloPort: builder.Configuration.GetValue("Orleans:SiloPort", 11111),
            gatewayPort: builder.Configuration.GetValue("Orleans:GatewayPort", 30000)));
        return builder;
    }
}
