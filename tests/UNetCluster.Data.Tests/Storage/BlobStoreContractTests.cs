using System.Globalization;
using System.Text;
using UNetCluster.Data.Storage;
using UNetCluster.Tests.Common;

namespace UNetCluster.Data.Tests.Storage;

/// <summary>The <see cref="IBlobStore"/> contract, against real Azurite and against a local folder.</summary>
[Trait("Category", "Blob")]
public sealed class BlobStoreContractTests(AzuriteFixture azurite)
{
    public static TheoryData<string> Backends => TestBlobStores.Backends;

    private static IBlobStore Create(AzuriteFixture azurite, string backend) => TestBlobStores.Create(azurite, backend);

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task WriteAsync_IfAbsentOnExistingBlob_ThrowsConflictAndKeepsTheContent(string backend)
    {
        var store = Create(azurite, backend);
        var ct = TestContext.Current.CancellationToken;
        await store.WriteAsync("jobs/a/record.json", Bytes("first"), BlobCondition.IfAbsent, ct);

        var conflict = await Assert.ThrowsAsync<BlobConflictException>(() => store.WriteAsync("jobs/a/record.json", Bytes("second"), BlobCondition.IfAbsent, ct));

        Assert.Equal("jobs/a/record.json", conflict.Name);
        Assert.Equal("first", Text((await store.ReadAsync("jobs/a/record.json", ct))!));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task WriteAsync_IfMatch_SucceedsWithTheCurrentETagAndConflictsWithAStaleOne(string backend)
    {
        var store = Create(azurite, backend);
        var ct = TestContext.Current.CancellationToken;
        var first = await store.WriteAsync("record.json", Bytes("v1"), BlobCondition.None, ct);
        var read = await store.ReadAsync("record.json", ct);
        Assert.Equal(first, read!.ETag);

        var second = await store.WriteAsync("record.json", Bytes("v2"), BlobCondition.IfMatch(read.ETag), ct);
        Assert.NotEqual(first, second);
        await Assert.ThrowsAsync<BlobConflictException>(() => store.WriteAsync("record.json", Bytes("v3 from a stale reader"), BlobCondition.IfMatch(first), ct));
        await Assert.ThrowsAsync<BlobConflictException>(() => store.WriteAsync("absent.json", Bytes("x"), BlobCondition.IfMatch(first), ct));

        var final = await store.ReadAsync("record.json", ct);
        Assert.Equal("v2", Text(final!));
        Assert.Equal(second, final!.ETag);
        Assert.Null(await store.ReadAsync("absent.json", ct));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task WriteAsync_ConcurrentReadModifyWriteWithIfMatch_LosesNoUpdate(string backend)
    {
        var store = Create(azurite, backend);
        var ct = TestContext.Current.CancellationToken;
        await store.WriteAsync("counter", Bytes("0"), BlobCondition.IfAbsent, ct);
        const int Writers = 4;
        const int Increments = 10;

        await Task.WhenAll(Enumerable.Range(0, Writers).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < Increments; i++)
            {
                while (true)
                {
                    var read = (await store.ReadAsync("counter", ct))!;
                    try
                    {
                        await store.WriteAsync("counter", Bytes((int.Parse(Text(read), CultureInfo.InvariantCulture) + 1).ToString(CultureInfo.InvariantCulture)), BlobCondition.IfMatch(read.ETag), ct);
                        break;
                    }
                    catch (BlobConflictException)
                    {
                        // another writer got there first: read again
                    }
                }
            }
        }, ct)));

        Assert.Equal((Writers * Increments).ToString(CultureInfo.InvariantCulture), Text((await store.ReadAsync("counter", ct))!));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task ListAsync_Prefix_ReturnsOnlyMatchingBlobsInNameOrder_AndDeleteRemovesOne(string backend)
    {
        var store = Create(azurite, backend);
        var ct = TestContext.Current.CancellationToken;
        foreach (var name in new[] { "jobs/b/latest", "jobs/a/checkpoints/000000002/manifest.json", "jobs/a/latest", "datasets/x/manifest.json" })
        {
            await store.WriteAsync(name, Bytes(name), BlobCondition.None, ct);
        }

        var listed = await store.ListAsync("jobs/a/", ct);
        Assert.Equal(new[] { "jobs/a/checkpoints/000000002/manifest.json", "jobs/a/latest" }, listed.Select(i => i.Name));
        Assert.Equal("jobs/a/latest".Length, listed[1].Length);

        Assert.True(await store.DeleteAsync("jobs/a/latest", ct));
        Assert.False(await store.DeleteAsync("jobs/a/latest", ct));
        Assert.Equal(3, (await store.ListAsync("", ct)).Count);
    }

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    private static string Text(BlobContent content) => Encoding.UTF8.GetString(content.Content);
}
