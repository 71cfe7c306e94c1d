using System.Text.RegularExpressions;
using UNetCluster.Tests.Common;

namespace UNetCluster.Deploy.Tests;

/// <summary>
/// The README's first screen as users rely on it: what UNetCluster is, then exactly the two commands (the main job and
/// every test, the second being what CI runs), then an overlay picture; every file it or bench/README.md links to is in
/// the repository.
/// </summary>
[Trait("Category", "Deploy")]
public sealed partial class ReadmeTests
{
    private static string Read(string path) => File.ReadAllText(Path.Combine(RepositoryPaths.Root, path));

    [Fact]
    public void FirstScreen_SaysWhatItIs_ThenExactlyTheTwoCommands_ThenAnOverlayPicture()
    {
        var lines = Read("README.md").Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        Assert.Equal("# UNetCluster", lines[0]);
        var fence = lines.FindIndex(l => l.StartsWith("```", StringComparison.Ordinal));
        Assert.InRange(fence, 2, 4);   // a sentence or two on what it is, then the commands
        Assert.Contains("U-Net", string.Join(' ', lines[1..fence]), StringComparison.Ordinal);
        var close = lines.FindIndex(fence + 1, l => l.StartsWith("```", StringComparison.Ordinal));
        var commands = lines[(fence + 1)..close].Select(l => l.Split('#')[0].Trim()).ToList();
        Assert.Equal(["bash scripts/unet.sh train", "bash scripts/test.sh"], commands);

        // CI runs the README's test command.
        Assert.Contains("exec bash scripts/test.sh", Read(".ci/run"), StringComparison.Ordinal);

        // The overlay picture follows within the first screen, and it is a PNG in the repository.
        var image = lines.Skip(close).Take(10).Select(l => ImageSource().Match(l)).FirstOrDefault(m => m.Success);
        Assert.NotNull(image);
        var bytes = File.ReadAllBytes(Path.Combine(RepositoryPaths.Root, image.Groups["src"].Value));
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], bytes[..4]);
    }

    [Theory]
    [InlineData("README.md")]
    [InlineData("bench/README.md")]
    public void EveryRelativeLink_NamesAFileInTheRepository(string readme)
    {
        var folder = Path.GetDirectoryName(Path.Combine(RepositoryPaths.Root, readme))!;
        var text = Read(readme);
        var targets = MarkdownLink().Matches(text).Select(m => m.Groups["target"].Value)
            .Concat(ImageSource().Matches(text).Select(m => m.Groups["src"].Value))
            .Where(t => !t.Contains("://", StringComparison.Ordinal) && !t.StartsWith('#') && !t.StartsWith("mailto:", StringComparison.Ordinal))
            .Select(t => t.Split('#')[0])
            .Distinct()
            .ToList();
        Assert.True(readme != "README.md" || targets.Count > 0, "the README links to no file of the repository");   // bench/README.md may link none
        foreach (var target in targets)
        {
            var full = Path.GetFullPath(Path.Combine(folder, target));
            Assert.True(full.StartsWith(RepositoryPaths.Root + Path.DirectorySeparatorChar, StringComparison.Ordinal), $"{readme} links outside the repository: {target}");
            Assert.True(File.Exists(full) || Directory.Exists(full), $"{readme} links to {target}, which is not in the repository");
        }
    }

    [GeneratedRegex(@"\]\((?<target>[^)\s]+)\)")]
    private static partial Regex MarkdownLink();

    [GeneratedRegex("<img src=\"(?<src>[^\"]+)\"")]
    private static partial Regex ImageSource();
}
