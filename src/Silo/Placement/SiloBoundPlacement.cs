using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace UNetCluster.Silo.Placement;

/// <summary>
/// Places a grain on the silo its key names after the first '@' (a <see cref="SiloAddress"/> in parsable form), and
/// nowhere else: a worker belongs to its silo's engine, and a reducer's shard lives where the coordinator put it. If
/// that silo is gone, activation fails, which is how the coordinator learns that the grain's state is lost.
/// </summary>
[GenerateSerializer, Immutable, Alias("UNetCluster.SiloBoundPlacement")]
public sealed class SiloBoundPlacement : PlacementStrategy
{
    internal static readonly SiloBoundPlacement Instance = new();

    /// <summary>The grain key for <paramref name="name"/> on <paramref name="silo"/>.</summary>
    public static string Key(string name, SiloAddress silo)
    {
        ArgumentNullException.ThrowIfNull(silo);
        return $"{name}@{silo.ToParsableString()}";
    }

    /// <summary>The silo a key names.</summary>
    public static SiloAddress SiloOf(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var at = key.IndexOf('@', StringComparison.Ordinal);
        if (at < 0)
        {
            throw new ArgumentException($"The grain key '{key}' names no silo (expected name@address).", nameof(key));
        }

        return SiloAddress.FromParsableString(key[(at + 1)..]);
    }
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
        var silo = SiloBoundPlacement.SiloOf(key);
        if (!context.GetCompatibleSilos(target).Contains(silo))
        {
            throw new OrleansException($"The grain '{key}' belongs to silo {silo}, which is not an active member of the cluster.");
        }

        return Task.FromResult(silo);
    }
}
