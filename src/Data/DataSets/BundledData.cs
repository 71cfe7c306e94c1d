namespace UNetCluster.Data.DataSets;

/// <summary>
/// The ISBI 2012 EM sections bundled with the repository under <c>data/isbi2012-em</c>: 24 labelled sections
/// (<c>images/</c>, <c>masks/</c>) and 30 unlabelled ones (<c>unlabelled/</c>).
/// </summary>
public static class BundledData
{
    public const string RelativePath = "data/isbi2012-em";

    /// <summary>
    /// Finds the bundled data folder: first below the current directory, then walking up from the application's
    /// base directory (so tests and <c>dotnet run</c> from any folder of a checkout find it).
    /// </summary>
    public static string Locate()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, RelativePath);
                if (Directory.Exists(Path.Combine(candidate, "images")))
                {
                    return candidate;
                }
            }
        }

        throw new DirectoryNotFoundException(
            $"The bundled data folder '{RelativePath}' was not found below '{Directory.GetCurrentDirectory()}' or " +
            $"above '{AppContext.BaseDirectory}'. Run from a checkout of the repository, or pass --images and --masks.");
    }

    public static string ImagesDirectory => Path.Combine(Locate(), "images");

    public static string MasksDirectory => Path.Combine(Locate(), "masks");

    public static string UnlabelledDirectory => Path.Combine(Locate(), "unlabelled");
}
