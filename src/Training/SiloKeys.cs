using Orleans.Runtime;

namespace UNetCluster.Training;

/// <summary>
/// Grain keys that name the silo a grain lives on, after the first '@' (a <see cref="SiloAddress"/> in parsable form):
/// a worker belongs to its silo's engine, and a reducer's shard lives where the coordinator put it.
/// </summary>
public static class SiloKeys
{
    /// <summary>The grain key for <paramref name="name"/> on <paramref name="silo"/>.</summary>
    public static string Key(string name, SiloAddress silo)
    {
        ArgumentNullException.ThrowIfNull(silo);
        return $"{name}@{silo.ToParsableString()}";
    }

    /// <summary>The worker grain key of a silo.</summary>
    public static string WorkerKey(SiloAddress silo) => Key("worker", silo);

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
