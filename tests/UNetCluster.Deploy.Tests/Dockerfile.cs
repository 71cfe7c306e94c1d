using System.Globalization;
using System.Text.Json;

namespace UNetCluster.Deploy.Tests;

/// <summary>
/// The final stage of an image in deploy/docker, read from its Dockerfile: image <c>unetcluster/silo:cpu</c> is the
/// stage <c>cpu</c> of <c>deploy/docker/silo.Dockerfile</c> (the README's build commands use the tag as the target).
/// </summary>
public sealed record Dockerfile(string Target, string WorkingDirectory, string? User, IReadOnlyList<string> Entrypoint, IReadOnlyList<int> Exposed, IReadOnlyDictionary<string, string> Environment)
{
    public static Dockerfile Read(string image)
    {
        var slash = image.LastIndexOf('/');
        var colon = image.LastIndexOf(':');
        var name = image[(slash + 1)..colon];
        var target = image[(colon + 1)..];
        var path = Path.Combine(Manifests.RepositoryRoot, "deploy", "docker", $"{name}.Dockerfile");
        Assert.True(File.Exists(path), $"No Dockerfile for {image}: {path}");

        var workdir = "/";
        string? user = null;
        var entrypoint = new List<string>();
        var exposed = new List<int>();
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        var inStage = false;
        var found = false;
        foreach (var line in Instructions(File.ReadAllText(path)))
        {
            var space = line.IndexOf(' ', StringComparison.Ordinal);
            var instruction = line[..space].ToUpperInvariant();
            var rest = line[(space + 1)..].Trim();
            if (instruction == "FROM")
            {
                inStage = rest.EndsWith($" AS {target}", StringComparison.OrdinalIgnoreCase);
                found |= inStage;
                continue;
            }

            if (!inStage)
            {
                continue;
            }

            switch (instruction)
            {
                case "WORKDIR":
                    workdir = rest;
                    break;
                case "USER":
                    user = rest;
                    break;
                case "ENTRYPOINT":
                    entrypoint = JsonSerializer.Deserialize<List<string>>(rest)!;
                    break;
                case "EXPOSE":
                    exposed.AddRange(rest.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(p => int.Parse(p.Split('/')[0], CultureInfo.InvariantCulture)));
                    break;
                case "ENV":
                    foreach (var pair in rest.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                    {
                        var equals = pair.IndexOf('=', StringComparison.Ordinal);
                        environment[pair[..equals]] = pair[(equals + 1)..];
                    }

                    break;
            }
        }

        Assert.True(found, $"{path} has no stage '{target}' for {image}.");
        return new Dockerfile(target, workdir, user, entrypoint, exposed, environment);
    }

    /// <summary>The instructions of stage <paramref name="stage"/> of <c>deploy/docker/{name}.Dockerfile</c>, after its FROM.</summary>
    public static IReadOnlyList<string> StageInstructions(string name, string stage)
    {
        var path = Path.Combine(Manifests.RepositoryRoot, "deploy", "docker", $"{name}.Dockerfile");
        var instructions = Instructions(File.ReadAllText(path)).ToList();
        var from = instructions.FindIndex(i => i.StartsWith("FROM ", StringComparison.OrdinalIgnoreCase) && i.EndsWith($" AS {stage}", StringComparison.OrdinalIgnoreCase));
        Assert.True(from >= 0, $"{path} has no stage '{stage}'.");
        return instructions.Skip(from + 1).TakeWhile(i => !i.StartsWith("FROM ", StringComparison.OrdinalIgnoreCase)).ToList();
    }

    /// <summary>The instructions, with continuation lines joined and comments left out.</summary>
    private static IEnumerable<string> Instructions(string text)
    {
        var current = string.Empty;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (current.Length == 0 && (line.TrimStart().StartsWith('#') || line.Trim().Length == 0))
            {
                continue;
            }

            if (line.EndsWith('\\'))
            {
                current += line[..^1] + " ";
                continue;
            }

            yield return (current + line).Trim();
            current = string.Empty;
        }
    }
}
