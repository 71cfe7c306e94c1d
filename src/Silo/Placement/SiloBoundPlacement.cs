using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.Placement;
using UNetCluster.Training;

namespace UNetCluster.Silo.Placement;

/// <summary>
/// Places a grain on the silo its key names (<see cref="SiloKeys"/>), and nowhere else: a worker belongs to its silo's
/// engine, and a reducer's shard lives where the coordinator put it. If that silo is gone, activation fails, which is
/// how the coordinator learns that the grain's state is lost.
/// </summary>
[GenerateSerializer, Immutable, Alias("UNetCluster.SiloBoundPlacement")]
public sealed class SiloBoundPlacement : PlacementStrategy
{
    internal static readonly SiloBoundPlacement Instance = new();
}

/// <summary>Marks a grain class for <see cref="SiloBoundPlacement"/>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class SiloBoundPlacementAttribute : PlacementAttribute
{
    public SiloBoundPlacementAttribute()
        : base(SiloBoundPlacement.Instance)
    {
    }
}

/// <summary>Resolves <see cref="SiloBoundPlacement"/>.</summary>
public sealed class SiloBoundPlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var key = target.GrainIdentity.Key.ToString();
        var silo = SiloKeys.SiloOf(key);
        if (!context.GetCompatibleSilos(target).Contains(silo))
        {
            throw new OrleansException($"The grain '{key}' belongs to silo {silo}, which is not an active member of the cluster.");
        }

        return Task.FromResult(silo);
    }
}
