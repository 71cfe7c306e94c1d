using UNetCluster.Data.DataSets;
using UNetCluster.Data.Storage;
using UNetCluster.Training.Jobs;
using UNetCluster.Training.Settings;

namespace UNetCluster.Training.Tests.Jobs;

/// <summary>
/// A stored data set as a silo sees it (<see cref="DataCatalog.OpenAsync"/>), on the local-folder blob store: only the
/// items asked for are fetched, each verified against its manifest. (The same on Azurite, across silo processes, is in
/// the end-to-end tests.)
/// </summary>
public sealed class DataCatalogTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "unetcluster-tests", "catalog-" + Guid.NewGuid().ToString("N"));
    private readonly DataCatalog _catalog;
    private readonly IBlobStore _blobs;

    public DataCatalogTests()
    {
        var storage = new JobStorage(new StorageSettings { Root = Path.Combine(_root, "storage") });
        _blobs = storage.Blobs;
        _catalog = new DataCatalog(new DataSettings { Cache = Path.Combine(_root, "cache") }, storage);
    }

    private string Cache => Path.Combine(_root, "cache");

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Fact]
    public async Task OpenAsync_StoredDataSet_KnowsItsSectionsWithoutFetchingAndFetchesOnlyTheItemsAskedFor()
    {
        var ct = TestContext.Current.CancellationToken;
        var (images, masks) = CopyBundled(6);
        await new DataSetStore(_blobs).UploadAsync("em-six", images, masks, cancellationToken: ct);

        var sections = await _catalog.OpenAsync("em-six", checkStoredFiles: true, ct);

        Assert.NotNull(sections);
        Assert.False(sections.IsLocal);
        Assert.Equal((6, 6, 0), (sections.Count, sections.Items, sections.FetchedItems));
        Assert.False(Directory.Exists(Cache));

        var fourth = await sections.GetAsync(4, ct);
        var again = await sections.GetAsync(4, ct);

        Assert.Same(fourth, again);
        Assert.Equal(1, sections.FetchedItems);
        Assert.Equal(["slice-04.png", "slice-04.png"], CachedFiles());
        var local = DataSetLoader.LoadLabelled(images, masks).Sections[4];
        Assert.Equal("slice-04", fourth.Id);
        Assert.Equal(local.Mask, fourth.Mask);
        Assert.Equal(local.Image.Normalised(), fourth.Image.Normalised());
    }

    [Fact]
    public async Task GetAsync_StoredFileChangedInPlace_ThrowsNamingTheBlob_OtherItemsStillLoad()
    {
        var ct = TestContext.Current.CancellationToken;
        var (images, masks) = CopyBundled(4);
        var manifest = await new DataSetStore(_blobs).UploadAsync("em-flipped", images, masks, cancellationToken: ct);
        var victim = manifest.Items[2].Image.Blob;
        var content = (await _blobs.ReadAsync(victim, ct))!.Content;
        content[^20] ^= 0xFF;   // same size: only the sha256 tells
        await _blobs.WriteAsync(victim, content, BlobCondition.None, ct);

        var sections = await _catalog.OpenAsync("em-flipped", checkStoredFiles: true, ct);   // sizes are right
        Assert.NotNull(sections);
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => sections.GetAsync(2, ct));
        var other = await sections.GetAsync(3, ct);

        Assert.Contains(victim, error.Message, StringComparison.Ordinal);
        Assert.Contains("corrupted", error.Message, StringComparison.Ordinal);
        Assert.Equal("slice-03", other.Id);
        Assert.DoesNotContain(CachedFiles(), f => f.StartsWith("slice-02", StringComparison.Ordinal));   // nothing unverified is cached
        Assert.Equal(1, sections.FetchedItems);                                                           // a failed fetch is not kept
    }

    [Fact]
    public async Task OpenAsync_CheckingStoredFiles_TruncatedOrMissingBlob_ThrowsNamingEveryOne()
    {
        var ct = TestContext.Current.CancellationToken;
        var (images, masks) = CopyBundled(3);
        var manifest = await new DataSetStore(_blobs).UploadAsync("em-damaged", images, masks, cancellationToken: ct);
        var truncated = manifest.Items[0].Mask.Blob;
        var missing = manifest.Items[1].Image.Blob;
        await _blobs.WriteAsync(truncated, (await _blobs.ReadAsync(truncated, ct))!.Content.AsMemory(0, 100), BlobCondition.None, ct);
        await _blobs.DeleteAsync(missing, ct);

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => _catalog.OpenAsync("em-damaged", checkStoredFiles: true, ct));

        Assert.Contains($"{truncated} is corrupted: 100 bytes", error.Message, StringComparison.Ordinal);
        Assert.Contains($"{missing} is missing", error.Message, StringComparison.Ordinal);
        Assert.Null(await _catalog.OpenAsync("no-such-set", cancellationToken: ct));
        Assert.Null(await _catalog.OpenAsync("../etc", cancellationToken: ct));
    }

    [Fact]
    public async Task OpenAsync_BundledDataSet_IsLocalWithEverySection()
    {
        var sections = await _catalog.OpenAsync(DataCatalog.Bundled, cancellationToken: TestContext.Current.CancellationToken);

        Assert.NotNull(sections);
        Assert.True(sections.IsLocal);
        Assert.Equal(24, sections.Count);
        Assert.Equal("slice-05", sections[5].Id);
    }

    [Fact]
    public async Task OpenAsync_ImagesOverTheConfiguredPixelLimit_RefusesNamingTheFileAndTheLimit()
    {
        var (images, masks) = CopyBundled(2);
        var settings = new DataSettings
        {
            DataSets = { ["small"] = new DataSetFolders { Images = images, Masks = masks } },
            MaxImagePixels = 100_000,                                             // the bundled sections are 512 x 512
        };
        var catalog = new DataCatalog(settings, new JobStorage(new StorageSettings { Root = Path.Combine(_root, "storage") }));

        var error = await Assert.ThrowsAsync<DataSetValidationException>(() => catalog.OpenAsync("small", cancellationToken: TestContext.Current.CancellationToken));
        var errors = new JobSpecValidator(catalog).Validate(new Contracts.Jobs.JobSpec { DataSet = "small", Preset = "tiny" }, null);

        Assert.Contains(Path.Combine(images, "slice-00.png"), error.Problems[0], StringComparison.Ordinal);
        Assert.Contains("over the limit of 100,000 pixels per image", error.Problems[0], StringComparison.Ordinal);
        Assert.Contains(errors, e => e.Contains("over the limit of 100,000 pixels per image", StringComparison.Ordinal));
    }

    private string[] CachedFiles() =>
        Directory.Exists(Cache)
            ? [.. Directory.EnumerateFiles(Cache, "*", SearchOption.AllDirectories).Select(Path.GetFileName).Order(StringComparer.Ordinal)!]
            : [];

    private (string Images, string Masks) CopyBundled(int count)
    {
        var images = Directory.CreateDirectory(Path.Combine(_root, "upload", "images")).FullName;
        var masks = Directory.CreateDirectory(Path.Combine(_root, "upload", "masks")).FullName;
        foreach (var file in Directory.GetFiles(BundledData.ImagesDirectory).Order(StringComparer.Ordinal).Take(count))
        {
            File.Copy(file, Path.Combine(images, Path.GetFileName(file)));
            File.Copy(Path.Combine(BundledData.MasksDirectory, Path.GetFileName(file)), Path.Combine(masks, Path.GetFileName(file)));
        }

        return (images, masks);
    }
}
