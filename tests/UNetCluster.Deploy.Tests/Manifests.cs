using System.Diagnostics;
using System.Text.Json;

namespace UNetCluster.Deploy.Tests;

/// <summary>
/// deploy/k8s rendered by the real <c>kubectl kustomize</c>, read as JSON (tools/k8s-validate/to-json.mjs) and checked by
/// the Kubernetes API schema validator pinned in tools/k8s-validate (scripts/setup.sh installs it).
/// </summary>
public static class Manifests
{
    /// <summary>Every kustomization the repository ships, relative to deploy/k8s.</summary>
    public static readonly string[] Kustomizations = ["base", "overlays/dev", "overlays/gpu", "overlays/azure", "submit"];

    public static string RepositoryRoot => UNetCluster.Tests.Common.RepositoryPaths.Root;

    public static string ValidatorDirectory => Path.Combine(RepositoryRoot, "tools", "k8s-validate");

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<string>> _rendered = new();

    /// <summary>The YAML stream <c>kubectl kustomize deploy/k8s/{kustomization}</c> prints (rendered once per test run).</summary>
    public static string Render(string kustomization) => _rendered.GetOrAdd(kustomization, k => new Lazy<string>(() => RenderNow(k))).Value;

    private static string RenderNow(string kustomization)
    {
        var (code, output, error) = Run("kubectl", ["kustomize", Path.Combine(RepositoryRoot, "deploy", "k8s", kustomization)]);
        Assert.True(code == 0, $"kubectl kustomize deploy/k8s/{kustomization} failed ({code}): {error}");
        return output;
    }

    /// <summary>The rendered objects of a kustomization.</summary>
    public static IReadOnlyList<JsonElement> Objects(string kustomization) => Parse(Render(kustomization));

    public static IReadOnlyList<JsonElement> Parse(string yaml)
    {
        var (code, output, error) = Run("node", [Path.Combine(ValidatorDirectory, "to-json.mjs")], yaml);
        Assert.True(code == 0, $"the rendered YAML does not parse: {error}");
        return [.. JsonDocument.Parse(output).RootElement.EnumerateArray().Select(e => e.Clone())];
    }

    /// <summary>Runs the schema validator on a YAML stream: its exit code and its report (one line per object).</summary>
    public static (int ExitCode, string Report) Validate(string yaml)
    {
        var (code, output, error) = Run("node", [Path.Combine(ValidatorDirectory, "validate.mjs")], yaml);
        return (code, output + error);
    }

    public static JsonElement Find(IEnumerable<JsonElement> objects, string kind, string name) =>
        objects.Single(o => o.GetProperty("kind").GetString() == kind && Name(o) == name);

    public static string Name(JsonElement o) => o.GetProperty("metadata").GetProperty("name").GetString()!;

    /// <summary>The ConfigMap a workload refers to by its un-hashed name (kustomize appends a content hash).</summary>
    public static JsonElement ConfigMap(IEnumerable<JsonElement> objects, string renderedName) =>
        objects.Single(o => o.GetProperty("kind").GetString() == "ConfigMap" && Name(o) == renderedName);

    public static JsonElement PodSpec(JsonElement workload) => workload.GetProperty("spec").GetProperty("template").GetProperty("spec");

    public static JsonElement Container(JsonElement workload, string name) =>
        PodSpec(workload).GetProperty("containers").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);

    public static (int ExitCode, string Output, string Error) Run(string file, IEnumerable<string> arguments, string? input = null)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = input is not null,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (input is not null)
        {
            process.StandardInput.Write(input);
            process.StandardInput.Close();
        }

        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', arguments)} did not finish in 60 s.");
        }

        return (process.ExitCode, output.Result, error.Result);
    }
}
