using System.Text.Json;
using System.Text.RegularExpressions;

namespace UNetCluster.Deploy.Tests;

/// <summary>
/// The environment a container of a rendered workload gets, worked out as the kubelet does: <c>envFrom</c> ConfigMaps
/// first, then <c>env</c> in order, with <c>$(VAR)</c> references to variables defined before, downward-API
/// <c>fieldRef</c>s from the given pod fields, and <c>secretKeyRef</c>s from the given Secrets (which this repository
/// never holds: the operator creates them).
/// </summary>
public static partial class PodEnvironment
{
    public static Dictionary<string, string> Resolve(
        JsonElement container,
        IReadOnlyList<JsonElement> objects,
        IReadOnlyDictionary<string, string> podFields,
        IReadOnlyDictionary<(string Secret, string Key), string> secrets)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        if (container.TryGetProperty("envFrom", out var envFrom))
        {
            foreach (var source in envFrom.EnumerateArray())
            {
                var name = source.GetProperty("configMapRef").GetProperty("name").GetString()!;
                foreach (var entry in Manifests.ConfigMap(objects, name).GetProperty("data").EnumerateObject())
                {
                    environment[entry.Name] = entry.Value.GetString()!;
                }
            }
        }

        if (container.TryGetProperty("env", out var env))
        {
            foreach (var variable in env.EnumerateArray())
            {
                var name = variable.GetProperty("name").GetString()!;
                environment[name] = Value(variable, environment, objects, podFields, secrets);
            }
        }

        return environment;
    }

    /// <summary>Every environment variable name a container sets, with the ConfigMaps of its <c>envFrom</c>.</summary>
    public static IReadOnlyList<string> Names(JsonElement container, IReadOnlyList<JsonElement> objects)
    {
        var names = new List<string>();
        if (container.TryGetProperty("envFrom", out var envFrom))
        {
            foreach (var source in envFrom.EnumerateArray())
            {
                var name = source.GetProperty("configMapRef").GetProperty("name").GetString()!;
                names.AddRange(Manifests.ConfigMap(objects, name).GetProperty("data").EnumerateObject().Select(e => e.Name));
            }
        }

        if (container.TryGetProperty("env", out var env))
        {
            names.AddRange(env.EnumerateArray().Select(v => v.GetProperty("name").GetString()!));
        }

        return names;
    }

    private static string Value(
        JsonElement variable,
        Dictionary<string, string> defined,
        IReadOnlyList<JsonElement> objects,
        IReadOnlyDictionary<string, string> podFields,
        IReadOnlyDictionary<(string Secret, string Key), string> secrets)
    {
        if (variable.TryGetProperty("value", out var value))
        {
            // $(VAR) expands to a variable defined earlier; an unknown one stays as written (as in Kubernetes).
            return Reference().Replace(value.GetString()!, m => defined.TryGetValue(m.Groups[1].Value, out var v) ? v : m.Value);
        }

        var from = variable.GetProperty("valueFrom");
        if (from.TryGetProperty("fieldRef", out var field))
        {
            var path = field.GetProperty("fieldPath").GetString()!;
            return podFields.TryGetValue(path, out var v) ? v : throw new InvalidOperationException($"No pod field {path} for {variable}.");
        }

        if (from.TryGetProperty("secretKeyRef", out var secret))
        {
            var key = (secret.GetProperty("name").GetString()!, secret.GetProperty("key").GetString()!);
            return secrets.TryGetValue(key, out var v) ? v : throw new InvalidOperationException($"No Secret value {key} for {variable}.");
        }

        if (from.TryGetProperty("configMapKeyRef", out var configMapKey))
        {
            return Manifests.ConfigMap(objects, configMapKey.GetProperty("name").GetString()!).GetProperty("data")
                .GetProperty(configMapKey.GetProperty("key").GetString()!).GetString()!;
        }

        throw new InvalidOperationException($"Unsupported valueFrom in {variable}.");
    }

    [GeneratedRegex(@"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")]
    private static partial Regex Reference();
}
