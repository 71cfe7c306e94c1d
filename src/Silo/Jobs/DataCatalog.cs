using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using UNetCluster.Data.DataSets;
using UNetCluster.Silo.Hosting;

namespace UNetCluster.Silo.Jobs;

/// <summary>
/// The data sets a job may name: the bundled ISBI 2012 sections (<c>isbi2012-em</c>), those configured by name, and
/// the sub-folders of the data root that hold <c>images/</c> and <c>masks/</c>.
/// </summary>
public sealed partial class DataCatalog(IOptions<UNetSiloOptions> options)
{
    public const string Bundled = "isbi2012-em";

    private readonly DataSettings _settings = options.Value.Data;

    /// <summary>The known names, sorted.</summary>
    public IReadOnlyList<string> Names()
    {
        var names = new SortedSet<string>(StringComparer.Ordinal) { Bundled };
        names.UnionWith(_settings.DataSets.Keys);
        if (_settings.Root is { } root && Directory.Exists(root))
        {
            names.UnionWith(Directory.GetDirectories(root)
                .Where(d => Directory.Exists(Path.Combine(d, "images")) && Directory.Exists(Path.Combine(d, "masks")))
                .Select(d => Path.GetFileName(d)!)
                .Where(IsValidName));
        }

        return [.. names];
    }

    public static bool IsValidName(string name) => name is not null && NamePattern().IsMatch(name);

    /// <summary>The folders of a data set, or null when the name is unknown.</summary>
    public DataSetFolders? Find(string name)
    {
        if (!IsValidName(name))
        {
            return null;
        }

        if (_settings.DataSets.TryGetValue(name, out var configured))
        {
            return configured;
        }

        if (name == Bundled)
        {
            return new DataSetFolders { Images = BundledData.ImagesDirectory, Masks = BundledData.MasksDirectory };
        }

        if (_settings.Root is { } root)
        {
            var folder = Path.Combine(root, name);
            if (Directory.Exists(Path.Combine(folder, "images")) && Directory.Exists(Path.Combine(folder, "masks")))
            {
                return new DataSetFolders { Images = Path.Combine(folder, "images"), Masks = Path.Combine(folder, "masks") };
            }
        }

        return null;
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{0,62}$")]
    private static partial Regex NamePattern();
}
