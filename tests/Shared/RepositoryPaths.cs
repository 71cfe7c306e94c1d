namespace UNetCluster.Tests.Common;

/// <summary>Where the repository is, for tests that read its files (deploy/, artefacts); linked into the test projects that need it.</summary>
public static class RepositoryPaths
{
    /// <summary>The repository's root: the nearest folder above the test binaries that holds UNetCluster.sln.</summary>
    public static string Root
    {
        get
        {
            var directory = new DirectoryInfo(AppContext.BaseDirectory);
            while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "UNetCluster.sln")))
            {
                directory = directory.Parent;
            }

            return directory?.FullName ?? throw new InvalidOperationException($"No UNetCluster.sln above {AppContext.BaseDirectory}.");
        }
    }
}
