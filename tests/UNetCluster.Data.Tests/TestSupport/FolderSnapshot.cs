using System.Security.Cryptography;

namespace UNetCluster.Data.Tests.TestSupport;

/// <summary>Every file below a folder, by relative path, with a hash of its bytes: to show reading changed nothing.</summary>
internal static class FolderSnapshot
{
    public static SortedDictionary<string, string> Take(string folder)
    {
        var snapshot = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories))
        {
            snapshot[Path.GetRelativePath(folder, file)] = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(file)));
        }

        return snapshot;
    }
}
