using System.Globalization;
using System.Text;
using UNetCluster.Data.Storage;

namespace UNetCluster.Data.Tests.Storage;

/// <summary>The folder store's own guarantees (the shared contract, on Azurite and a folder, is BlobStoreContractTests).</summary>
public sealed class FileBlobStoreTests
{
    [Theory]
    [InlineData("../escape")]
    [InlineData("jobs/../../etc/passwd")]
    [InlineData("/absolute")]
    [InlineData("jobs\\a")]
    [InlineData("jobs//a")]
    [InlineData("jobs/./a")]
    [InlineData(".blobstore/lock")]
    [InlineData("")]
    public async Task WriteAsync_InvalidName_IsRefusedBeforeAnythingIsWritten(string name)
    {
        var parent = TemporaryDirectory();
        var store = new FileBlobStore(Path.Combine(parent, "root"));

        var error = await Assert.ThrowsAsync<ArgumentException>(() => store.WriteAsync(name, Bytes("x"), BlobCondition.None, TestContext.Current.CancellationToken));

        Assert.Contains("Invalid blob name", error.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(parent, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task WriteAsync_IfMatchFromTwoStoresOnOneFolder_LosesNoUpdate()
    {
        var ct = TestContext.Current.CancellationToken;
        var root = TemporaryDirectory();
        IBlobStore[] stores = [new FileBlobStore(root), new FileBlobStore(root)];
        await stores[0].WriteAsync("jobs/j/record.json", Bytes("0"), BlobCondition.IfAbsent, ct);

        await Task.WhenAll(Enumerable.Range(0, 6).Select(writer => Task.Run(async () =>
        {
            var store = stores[writer % 2];
            for (var i = 0; i < 15; i++)
            {
                while (true)
                {
                    var read = (await store.ReadAsync("jobs/j/record.json", ct))!;
                    var next = int.Parse(Encoding.UTF8.GetString(read.Content), CultureInfo.InvariantCulture) + 1;
                    try
                    {
                        await store.WriteAsync("jobs/j/record.json", Bytes(next.ToString(CultureInfo.InvariantCulture)), BlobCondition.IfMatch(read.ETag), ct);
                        break;
                    }
                    catch (BlobConflictException)
                    {
                        // another writer got there first: read again
                    }
                }
            }
        }, ct)));

        Assert.Equal("90", Encoding.UTF8.GetString((await stores[1].ReadAsync("jobs/j/record.json", ct))!.Content));
        Assert.Equal(new[] { "jobs/j/record.json" }, (await stores[0].ListAsync("", ct)).Select(b => b.Name)); // no temporary files left
    }

    [Fact]
    public async Task DeleteAsync_LastBlobOfAFolder_RemovesTheEmptyFolders()
    {
        var ct = TestContext.Current.CancellationToken;
        var root = TemporaryDirectory();
        var store = new FileBlobStore(root);
        await store.WriteAsync("jobs/j/checkpoints/000000001/manifest.json", Bytes("{}"), BlobCondition.None, ct);

        Assert.True(await store.DeleteAsync("jobs/j/checkpoints/000000001/manifest.json", ct));

        Assert.False(Directory.Exists(Path.Combine(root, "jobs")));
    }

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    private static string TemporaryDirectory()
    {
        var path = Path.Combine(Path.GetTempPath(), "unetcluster-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }
}
