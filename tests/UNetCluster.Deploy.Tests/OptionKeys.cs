using System.Reflection;
using UNetCluster.Silo.Hosting;
using UNetCluster.Training.Settings;

namespace UNetCluster.Deploy.Tests;

/// <summary>
/// The configuration keys the silo really reads, derived by reflection from <see cref="UNetSiloOptions"/> and its
/// nested records (what <c>GetSection("UNetCluster").Get&lt;UNetSiloOptions&gt;()</c> binds), as environment variable
/// names: <c>UNetCluster__Cluster__SiloPort</c>; a dictionary's key is the wildcard <c>*</c>
/// (<c>UNetCluster__Data__DataSets__*__Images</c>).
/// </summary>
public static class OptionKeys
{
    public static IReadOnlyList<string> EnvironmentNames { get; } = [.. Walk(typeof(UNetSiloOptions), UNetSiloOptions.Section)];

    /// <summary>Whether an environment variable sets an option (configuration keys are case-insensitive).</summary>
    public static bool IsOption(string name) => EnvironmentNames.Any(pattern => Matches(pattern, name));

    private static bool Matches(string pattern, string name)
    {
        var expected = pattern.Split("__");
        var actual = name.Split("__");
        return expected.Length == actual.Length &&
            expected.Zip(actual).All(p => p.First == "*" ? p.Second.Length > 0 : string.Equals(p.First, p.Second, StringComparison.OrdinalIgnoreCase));
    }

    private static IEnumerable<string> Walk(Type type, string prefix)
    {
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite))
        {
            var key = $"{prefix}__{property.Name}";
            var propertyType = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            if (propertyType.IsGenericType && propertyType.GetGenericTypeDefinition() == typeof(Dictionary<,>))
            {
                var value = propertyType.GetGenericArguments()[1];
                foreach (var nested in IsSection(value) ? Walk(value, key + "__*") : [key + "__*"])
                {
                    yield return nested;
                }
            }
            else if (IsSection(propertyType))
            {
                foreach (var nested in Walk(propertyType, key))
                {
                    yield return nested;
                }
            }
            else
            {
                yield return key;
            }
        }
    }

    // A section is one of the settings records: the silo's own (UNetSiloOptions, HttpSettings) and the training wing's
    // (ClusterSettings and the others in UNetCluster.Training.Settings) that it binds.
    private static bool IsSection(Type type) =>
        type.IsClass && type.Namespace is { } name && (name == typeof(UNetSiloOptions).Namespace || name == typeof(ClusterSettings).Namespace);
}
