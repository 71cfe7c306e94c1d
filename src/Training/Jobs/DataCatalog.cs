using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using UNetCluster.Data.DataSets;
using UNetCluster.Data.Imaging;
using UNetCluster.Data.Storage;
using UNetCluster.Training.Settings;

namespace UNetCluster.Training.Jobs;

/// <summary>
/// The data sets a job may name: the bundled ISBI 2012 sections (<c>isbi2012-em</c>), those configured by name, the
/// sub-folders of the data root that hold <c>images/</c> and <c>masks/</c>, and those uploaded to the cluster's storage
/// with <c>unet dataset upload</c> (DESIGN.md's <c>datasets/{name}/</c>). A stored data set's items are fetched into
/// this silo's cache as the steps of its workers need them (<see cref="OpenAsync"/>).
/// </summary>
public sealed partial class DataCatalog(DataSettings settings, JobStorage storage)
{
    public const string Bundled = "isbi2012-em";

    private readonly DataSettings _settings = settings;
    private readonly DataSetStore _stored = new(storage.Blobs);
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _fetching = new(StringComparer.Ordinal);

    private string CacheRoot => _settings.Cache ?? Path.Combine(Path.GetTempPath(), "unetcluster-data");

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

        try
        {
            names.UnionWith(_stored.ListAsync().GetAwaiter().GetResult().Select(m => m.Name));
        }
        catch (Exception e) when (e is IOException or InvalidDataException or Azure.RequestFailedException)
        {
            // Storage unreachable: the local data sets are still listed.
        }

        return [.. names];
    }

    /// <summary>
    /// The sections of a data set, or null when the name is unknown. A local one (<see cref="Find"/>) is read whole
    /// (every pair checked). A stored one only has its manifest read: its items are fetched when a step first needs
    /// them, each into this silo's cache (<c>{cache}/{name}/{version}/</c>, the version a hash of the manifest's
    /// items) and each file checked against the sha256 its manifest gives; a file already cached with the right hash
    /// is not fetched again. With <paramref name="checkStoredFiles"/>, every stored file is also checked to be there
    /// with its manifest's size (one listing, no content read), as a job's submission does.
    /// </summary>
    /// <exception cref="InvalidDataException">A stored file is missing or has another size than its manifest gives.</exception>
    /// <exception cref="DataSetValidationException">A local data set's pairs are not valid.</exception>
    public async Task<DataSetSections?> OpenAsync(string name, bool checkStoredFiles = false, CancellationToken cancellationToken = default)
    {
        if (Find(name) is { } local)
        {
            return DataSetSections.Local(name, DataSetLoader.LoadLabelled(local.Images, local.Masks, ImageLimits.For(_settings.MaxImagePixels), local.MaskKind));
        }

        if (!IsValidName(name) || name.Contains('.', StringComparison.Ordinal) || name.Contains('_', StringComparison.Ordinal))
        {
            return null;
        }

        var manifest = await _stored.GetAsync(name, cancellationToken).ConfigureAwait(false);
        if (manifest is null)
        {
            return null;
        }

        if (checkStoredFiles && await _stored.CheckFilesAsync(manifest, cancellationToken).ConfigureAwait(false) is { Count: > 0 } problems)
        {
            throw new InvalidDataException(string.Join(" ", problems));
        }

        var version = Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(
            string.Join('\n', manifest.Items.Select(i => $"{i.Id} {i.Image.Sha256} {i.Mask.Sha256}")))))[..16];
        var folder = Path.Combine(CacheRoot, name, version);
        var items = manifest.Items.OrderBy(i => i.Id, StringComparer.Ordinal).ToList();   // the order LoadLabelled gives
        return DataSetSections.Stored(name, items, (item, ct) => FetchItemAsync(name, folder, item, manifest, ct), manifest.MaskKind, manifest.Classes, manifest.Channels);
    }

    /// <summary>One stored item fetched into the cache (verified) and read as labelled sections.</summary>
    private async Task<IReadOnlyList<LabelledSection>> FetchItemAsync(string name, string folder, DataSetItem item, DataSetManifest manifest, CancellationToken cancellationToken)
    {
        var gate = _fetching.GetOrAdd($"{name}/{item.Id}", _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var image = Path.Combine(folder, "images", LocalName(item.Image.Blob, ".image"));
            var mask = Path.Combine(folder, "masks", LocalName(item.Mask.Blob, ".mask"));
            Directory.CreateDirectory(Path.GetDirectoryName(image)!);
            Directory.CreateDirectory(Path.GetDirectoryName(mask)!);
            await FetchAsync(item.Image, image, cancellationToken).ConfigureAwait(false);
            await FetchAsync(item.Mask, mask, cancellationToken).ConfigureAwait(false);
            var sections = DataSetLoader.LoadPair(item.Id, image, mask, ImageLimits.For(_settings.MaxImagePixels), manifest.MaskKind, manifest.Classes, manifest.ClassTable);
            if (sections.FirstOrDefault(s => s.Image.Channels != manifest.Channels) is { } other)
            {
                throw new DataSetValidationException(
                    $"The labelled item '{item.Id}' of data set '{name}' is not valid",
                    [$"{other.Image.Source}: image has {DataSetLoader.Channels(other.Image.Channels)} but the data set's manifest says {DataSetLoader.Channels(manifest.Channels)}"]);
            }

            return sections;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary><c>datasets/x/items/slice-01.image.png</c> with marker <c>.image</c> is <c>slice-01.png</c>.</summary>
    private static string LocalName(string blob, string marker)
    {
        var file = blob[(blob.LastIndexOf('/') + 1)..];
        var at = file.LastIndexOf(marker, StringComparison.Ordinal);
        return at < 0 ? file : file[..at] + file[(at + marker.Length)..];
    }

    private async Task FetchAsync(DataSetFile file, string path, CancellationToken cancellationToken)
    {
        if (File.Exists(path))
        {
            await using var cached = File.OpenRead(path);
            if (Convert.ToHexStringLower(await SHA256.HashDataAsync(cached, cancellationToken).ConfigureAwait(false)) == file.Sha256)
            {
                return;
            }
        }

        var bytes = await _stored.ReadFileAsync(file, cancellationToken).ConfigureAwait(false);   // checks size and sha256
        var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        await File.WriteAllBytesAsync(temporary, bytes, cancellationToken).ConfigureAwait(false);
        File.Move(temporary, path, overwrite: true);
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
