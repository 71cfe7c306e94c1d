using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using UNetCluster.Data.DataSets;
using UNetCluster.Data.Imaging;

namespace UNetCluster.Data.Storage;

/// <summary>One stored file of a data set item: its blob name, size and sha256 (lower-case hex).</summary>
public sealed record DataSetFile(string Blob, long Bytes, string Sha256);

/// <summary>One image and its mask (a TIFF stack is one item of several pages).</summary>
public sealed record DataSetItem(string Id, int Width, int Height, int BitDepth, int Pages, DataSetFile Image, DataSetFile Mask);

/// <summary><c>datasets/{name}/manifest.json</c>: the items, sizes, bit depths and the sha256 of every file.</summary>
public sealed record DataSetManifest(string Format, string Name, DateTimeOffset CreatedUtc, IReadOnlyList<DataSetItem> Items)
{
    public const string CurrentFormat = "unetcluster.dataset/1";

    public int Sections => Items.Sum(i => i.Pages);

    public long Bytes => Items.Sum(i => i.Image.Bytes + i.Mask.Bytes);

    /// <summary>What the masks hold, as the upload read them (binary, instances or classes); <see cref="MaskKind.Auto"/> in manifests written before it was recorded.</summary>
    public MaskKind MaskKind { get; init; }

    /// <summary>For class masks, the class count (<c>--classes</c>, else the largest index + 1); null otherwise.</summary>
    public int? Classes { get; init; }

    /// <summary>The masks' <c>classes.json</c> (names, and colours for colour class masks), when they had one.</summary>
    public ClassTable? ClassTable { get; init; }

    /// <summary>The channels of every image (1 gray, 3 RGB), as the upload read them; 1 in manifests written before it was recorded.</summary>
    public int Channels { get; init; } = 1;
}

/// <summary>
/// Labelled data sets in a blob store (../shared/DESIGN.md): <c>datasets/{name}/items/{stem}.image{ext}</c> and
/// <c>{stem}.mask{ext}</c> (the original PNG or TIFF files, byte for byte), then <c>datasets/{name}/manifest.json</c>,
/// written last and only if absent: a data set exists once its manifest does. Every pair is validated
/// (<see cref="DataSetLoader.LoadLabelled"/>) before anything is uploaded; a bad data set uploads nothing.
/// </summary>
public sealed partial class DataSetStore(IBlobStore blobs)
{
    public const string Root = "datasets";
    public const string ManifestFile = "manifest.json";
    public const string NameRule = "1 to 63 characters: lower-case letters a-z, digits 0-9 and '-', starting with a letter or a digit";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
    };

    /// <summary>Throws <see cref="ArgumentException"/> saying what a data set name may be.</summary>
    public static string ValidateName(string name)
    {
        if (string.IsNullOrEmpty(name) || !NamePattern().IsMatch(name))
        {
            throw new ArgumentException($"'{name}' is not a valid data set name: use {NameRule} (e.g. isbi2012-em).");
        }

        return name;
    }

    /// <summary>
    /// Validates every pair in the folders, then uploads the files and the manifest. Throws
    /// <see cref="DataSetValidationException"/> (listing every bad file) before uploading anything, and
    /// <see cref="InvalidOperationException"/> when a data set of that name exists.
    /// </summary>
    public async Task<DataSetManifest> UploadAsync(string name, string imagesDirectory, string masksDirectory, IProgress<string>? progress = null,
        MaskKind maskKind = MaskKind.Auto, ImageLimits? limits = null, int? classes = null, CancellationToken cancellationToken = default)
    {
        ValidateName(name);
        var loaded = DataSetLoader.LoadLabelled(imagesDirectory, masksDirectory, limits, maskKind, classes);
        var (sections, kind) = (loaded.Sections, loaded.Kind);
        if (await GetAsync(name, cancellationToken).ConfigureAwait(false) is not null)
        {
            throw new InvalidOperationException($"The data set '{name}' exists already ({blobs.Describe(ManifestName(name))}); delete it first or pick another name.");
        }

        var problems = new List<string>();
        var masks = DataSetLoader.ListImageFiles(masksDirectory, "masks", problems)
            .ToDictionary(f => Path.GetFileNameWithoutExtension(f), StringComparer.Ordinal);
        var plan = sections.GroupBy(s => s.Image.Source, StringComparer.Ordinal).Select(byFile =>
        {
            var stem = Path.GetFileNameWithoutExtension(byFile.Key);
            var maskPath = masks[stem];
            return (Stem: stem, Image: byFile.First().Image, Pages: byFile.Count(), ImagePath: byFile.Key, MaskPath: maskPath,
                ImageBlob: BlobNames.Validate($"{Root}/{name}/items/{stem}.image{Path.GetExtension(byFile.Key).ToLowerInvariant()}"),
                MaskBlob: BlobNames.Validate($"{Root}/{name}/items/{stem}.mask{Path.GetExtension(maskPath).ToLowerInvariant()}"));
        }).ToList();
        var items = new List<DataSetItem>();
        foreach (var entry in plan)
        {
            var image = await UploadFileAsync(entry.ImageBlob, entry.ImagePath, cancellationToken).ConfigureAwait(false);
            var mask = await UploadFileAsync(entry.MaskBlob, entry.MaskPath, cancellationToken).ConfigureAwait(false);
            items.Add(new DataSetItem(entry.Stem, entry.Image.Width, entry.Image.Height, entry.Image.BitDepth, entry.Pages, image, mask));
            progress?.Report(entry.Stem);
        }

        var manifest = new DataSetManifest(DataSetManifest.CurrentFormat, name, DateTimeOffset.UtcNow, items) { MaskKind = kind, Classes = kind == MaskKind.Classes ? loaded.Classes : null, ClassTable = loaded.Table, Channels = loaded.Channels };
        try
        {
            await blobs.WriteAsync(ManifestName(name), JsonSerializer.SerializeToUtf8Bytes(manifest, Json), BlobCondition.IfAbsent, cancellationToken).ConfigureAwait(false);
        }
        catch (BlobConflictException e)
        {
            throw new InvalidOperationException($"The data set '{name}' was created by someone else during this upload; delete it and upload again.", e);
        }

        return manifest;
    }

    /// <summary>
    /// Every readable data set (its manifest), by name. What is not one is skipped and, with
    /// <paramref name="onProblem"/>, named: a folder whose name is not a valid data set name, a manifest that cannot
    /// be read, files without a manifest (an upload that did not finish). One bad entry never hides the good ones.
    /// </summary>
    public Task<IReadOnlyList<DataSetManifest>> ListAsync(CancellationToken cancellationToken = default) => ListAsync(null, cancellationToken);

    /// <inheritdoc cref="ListAsync(CancellationToken)"/>
    public async Task<IReadOnlyList<DataSetManifest>> ListAsync(Action<string>? onProblem, CancellationToken cancellationToken = default)
    {
        var result = new List<DataSetManifest>();
        var folders = new SortedDictionary<string, bool>(StringComparer.Ordinal);   // folder -> has a manifest
        foreach (var item in await blobs.ListAsync(Root + "/", cancellationToken).ConfigureAwait(false))
        {
            var parts = item.Name.Split('/');
            if (parts.Length < 3)
            {
                onProblem?.Invoke($"{item.Name} is not part of a data set; expected {Root}/NAME/{ManifestFile} and {Root}/NAME/items/.");
                continue;
            }

            folders[parts[1]] = (folders.TryGetValue(parts[1], out var seen) && seen) || (parts.Length == 3 && parts[2] == ManifestFile);
        }

        foreach (var (name, hasManifest) in folders)
        {
            if (!NamePattern().IsMatch(name))
            {
                onProblem?.Invoke($"{Root}/{name}/ is not a data set: '{name}' is not a valid data set name ({NameRule}).");
            }
            else if (!hasManifest)
            {
                onProblem?.Invoke($"{Root}/{name}/ has no {ManifestFile} (an upload that did not finish?); delete it with 'unet dataset delete {name}'.");
            }
            else
            {
                try
                {
                    if (await GetAsync(name, cancellationToken).ConfigureAwait(false) is { } manifest)
                    {
                        result.Add(manifest);
                    }
                }
                catch (InvalidDataException e)
                {
                    onProblem?.Invoke(e.Message);
                }
            }
        }

        return result;
    }

    /// <summary>A data set's manifest, or null when there is none of that name.</summary>
    public async Task<DataSetManifest?> GetAsync(string name, CancellationToken cancellationToken = default)
    {
        ValidateName(name);
        var blob = await blobs.ReadAsync(ManifestName(name), cancellationToken).ConfigureAwait(false);
        if (blob is null)
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize<DataSetManifest>(blob.Content, Json)
                ?? throw new InvalidDataException($"{blobs.Describe(ManifestName(name))} is empty.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{blobs.Describe(ManifestName(name))} is not a valid data set manifest: {e.Message}", e);
        }
    }

    /// <summary>Deletes a data set: its manifest first (so it stops existing), then its files. False when there was nothing.</summary>
    public async Task<bool> DeleteAsync(string name, CancellationToken cancellationToken = default)
    {
        ValidateName(name);
        var deleted = await blobs.DeleteAsync(ManifestName(name), cancellationToken).ConfigureAwait(false);
        foreach (var item in await blobs.ListAsync($"{Root}/{name}/", cancellationToken).ConfigureAwait(false))
        {
            deleted |= await blobs.DeleteAsync(item.Name, cancellationToken).ConfigureAwait(false);
        }

        return deleted;
    }

    /// <summary>
    /// Checks, with one listing and without reading any content, that every file of a data set is stored with the
    /// size its manifest gives; the problems found, each naming its blob (empty when none). Contents are checked
    /// against their sha256 when they are read (<see cref="ReadFileAsync"/>).
    /// </summary>
    public async Task<IReadOnlyList<string>> CheckFilesAsync(DataSetManifest manifest, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var stored = (await blobs.ListAsync($"{Root}/{manifest.Name}/", cancellationToken).ConfigureAwait(false))
            .ToDictionary(b => b.Name, b => b.Length, StringComparer.Ordinal);
        var problems = new List<string>();
        foreach (var file in manifest.Items.SelectMany(i => new[] { i.Image, i.Mask }))
        {
            if (!stored.TryGetValue(file.Blob, out var length))
            {
                problems.Add($"{blobs.Describe(file.Blob)} is missing.");
            }
            else if (length != file.Bytes)
            {
                problems.Add($"{blobs.Describe(file.Blob)} is corrupted: {length} bytes, its manifest says {file.Bytes}.");
            }
        }

        return problems;
    }

    /// <summary>Reads one stored file, checking its size and sha256 against the manifest.</summary>
    public async Task<byte[]> ReadFileAsync(DataSetFile file, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(file);
        var blob = await blobs.ReadAsync(file.Blob, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidDataException($"{blobs.Describe(file.Blob)} is missing.");
        var sha = Convert.ToHexStringLower(SHA256.HashData(blob.Content));
        if (blob.Content.LongLength != file.Bytes || sha != file.Sha256)
        {
            throw new InvalidDataException($"{blobs.Describe(file.Blob)} is corrupted: sha256 {sha}, manifest says {file.Sha256}.");
        }

        return blob.Content;
    }

    private static string ManifestName(string name) => $"{Root}/{name}/{ManifestFile}";

    private async Task<DataSetFile> UploadFileAsync(string blob, string path, CancellationToken cancellationToken)
    {
        var bytes = await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        await blobs.WriteAsync(blob, bytes, BlobCondition.None, cancellationToken).ConfigureAwait(false);
        return new DataSetFile(blob, bytes.LongLength, Convert.ToHexStringLower(SHA256.HashData(bytes)));
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,62}$", RegexOptions.CultureInvariant)]
    private static partial Regex NamePattern();
}
