using UNetCluster.Data.DataSets;
using UNetCluster.Data.Imaging;
using UNetCluster.Data.Storage;
using UNetCluster.Tests.Common;

namespace UNetCluster.Data.Tests.Storage;

/// <summary><see cref="DataSetStore"/> on real Azurite and on a local folder.</summary>
[Trait("Category", "Blob")]
public sealed class DataSetStoreTests(AzuriteFixture azurite)
{
    public static TheoryData<string> Backends => TestBlobStores.Backends;

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task UploadAsync_ValidPairs_StoresFilesAndManifestWithHashes_ListShowDeleteSeeIt(string backend)
    {
        var ct = TestContext.Current.CancellationToken;
        var store = new DataSetStore(TestBlobStores.Create(azurite, backend));
        var (images, masks) = CopyBundled(3);

        var manifest = await store.UploadAsync("em-three", images, masks, cancellationToken: ct);

        Assert.Equal(new[] { "slice-00", "slice-01", "slice-02" }, manifest.Items.Select(i => i.Id));
        var item = manifest.Items[1];
        Assert.Equal((512, 512, 8, 1), (item.Width, item.Height, item.BitDepth, item.Pages));
        Assert.Equal("datasets/em-three/items/slice-01.image.png", item.Image.Blob);
        Assert.Equal(File.ReadAllBytes(Path.Combine(masks, "slice-01.png")), await store.ReadFileAsync(item.Mask, ct));
        Assert.Equal("em-three", Assert.Single(await store.ListAsync(ct)).Name);
        Assert.Equal(manifest.Items, (await store.GetAsync("em-three", ct))!.Items);

        Assert.True(await store.DeleteAsync("em-three", ct));
        Assert.Null(await store.GetAsync("em-three", ct));
        Assert.Empty(await store.ListAsync(ct));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task UploadAsync_InstanceMasks_RecordsTheMaskKindInTheManifest(string backend)
    {
        var ct = TestContext.Current.CancellationToken;
        var store = new DataSetStore(TestBlobStores.Create(azurite, backend));
        var (images, masks) = CopyBundled(1);
        var ids = ImageReader.Read(Path.Combine(masks, "slice-00.png")).Values.Select((v, i) => v == 0 ? (byte)0 : (byte)(1 + (i % 512 / 64))).ToArray();
        PngWriter.WriteGray8(Path.Combine(masks, "slice-00.png"), ids, 512, 512);   // 8 vertical bands of object ids

        var binary = await Assert.ThrowsAsync<DataSetValidationException>(() => store.UploadAsync("em-ids", images, masks, cancellationToken: ct));
        var manifest = await store.UploadAsync("em-ids", images, masks, maskKind: MaskKind.Instances, cancellationToken: ct);

        Assert.Contains("--mask-kind instances", Assert.Single(binary.Problems), StringComparison.Ordinal);
        Assert.Equal(MaskKind.Instances, manifest.MaskKind);
        Assert.Equal(MaskKind.Instances, (await store.GetAsync("em-ids", ct))!.MaskKind);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task UploadAsync_RgbImages_RecordsThreeChannelsInTheManifest(string backend)
    {
        var ct = TestContext.Current.CancellationToken;
        var store = new DataSetStore(TestBlobStores.Create(azurite, backend));
        var (images, masks) = CopyBundled(1);
        var gray = ImageReader.Read(Path.Combine(images, "slice-00.png")).Values;
        PngWriter.WriteRgb8(Path.Combine(images, "slice-00.png"), [.. gray.SelectMany(v => new[] { (byte)v, (byte)(255 - v), (byte)(v / 2) })], 512, 512);

        var manifest = await store.UploadAsync("em-rgb", images, masks, cancellationToken: ct);

        Assert.Equal(3, manifest.Channels);
        Assert.Equal(3, (await store.GetAsync("em-rgb", ct))!.Channels);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task UploadAsync_SomeBadPairs_ListsEveryBadFileAndUploadsNothing(string backend)
    {
        var ct = TestContext.Current.CancellationToken;
        var blobs = TestBlobStores.Create(azurite, backend);
        var store = new DataSetStore(blobs);
        var (images, masks) = CopyBundled(4);
        File.WriteAllBytes(Path.Combine(masks, "slice-01.png"), File.ReadAllBytes(Path.Combine(masks, "slice-01.png"))[..200]); // truncated
        File.Delete(Path.Combine(masks, "slice-03.png")); // an image without mask

        var error = await Assert.ThrowsAsync<DataSetValidationException>(() => store.UploadAsync("em-bad", images, masks, cancellationToken: ct));

        Assert.Equal(2, error.Problems.Count);
        Assert.Contains(error.Problems, p => p.Contains("slice-01.png", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.Contains("slice-03.png", StringComparison.Ordinal) && p.Contains("no mask", StringComparison.Ordinal));
        Assert.Empty(await blobs.ListAsync("", ct));
    }

    [Theory]
    [InlineData("Upper")]
    [InlineData("-leading-dash")]
    [InlineData("under_score")]
    [InlineData("a/b")]
    [InlineData("")]
    public async Task UploadAsync_InvalidName_SaysWhatIsAccepted(string name)
    {
        var store = new DataSetStore(new FileBlobStore(TestBlobStores.TemporaryDirectory()));
        var (images, masks) = CopyBundled(1);

        var error = await Assert.ThrowsAsync<ArgumentException>(() => store.UploadAsync(name, images, masks, cancellationToken: TestContext.Current.CancellationToken));

        Assert.Contains("lower-case letters a-z, digits 0-9 and '-'", error.Message, StringComparison.Ordinal);
    }

    private static (string Images, string Masks) CopyBundled(int count)
    {
        var root = TestBlobStores.TemporaryDirectory();
        var images = Directory.CreateDirectory(Path.Combine(root, "images")).FullName;
        var masks = Directory.CreateDirectory(Path.Combine(root, "masks")).FullName;
        foreach (var file in Directory.GetFiles(BundledData.ImagesDirectory).Order(StringComparer.Ordinal).Take(count))
        {
            File.Copy(file, Path.Combine(images, Path.GetFileName(file)));
            File.Copy(Path.Combine(BundledData.MasksDirectory, Path.GetFileName(file)), Path.Combine(masks, Path.GetFileName(file)));
        }

        return (images, masks);
    }
}
