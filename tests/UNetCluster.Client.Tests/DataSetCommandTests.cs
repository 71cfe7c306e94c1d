using UNetCluster.Data.DataSets;

namespace UNetCluster.Client.Tests;

public sealed class DataSetCommandTests
{
    [Fact]
    public async Task DatasetUpload_ThenListShowDelete_WorksOnALocalFolderStore()
    {
        var root = CliRunner.TemporaryDirectory();

        var upload = await CliRunner.RunAsync("dataset", "upload", "isbi", "--images", BundledData.ImagesDirectory, "--masks", BundledData.MasksDirectory, "--root", root);
        var list = await CliRunner.RunAsync("dataset", "list", "--root", root);
        var show = await CliRunner.RunAsync("dataset", "show", "isbi", "--root", root);
        var listJson = await CliRunner.RunAsync("dataset", "list", "--root", root, "--json");
        var showJson = await CliRunner.RunAsync("dataset", "show", "isbi", "--root", root, "--json");
        var delete = await CliRunner.RunAsync("dataset", "delete", "isbi", "--root", root);
        var after = await CliRunner.RunAsync("dataset", "show", "isbi", "--root", root);

        Assert.Equal((0, ""), (upload.ExitCode, upload.Error));
        Assert.Contains("24 items", upload.Output, StringComparison.Ordinal);
        Assert.StartsWith("isbi ", list.Output, StringComparison.Ordinal);
        Assert.Contains("slice-23", show.Output, StringComparison.Ordinal);
        using (var listed = System.Text.Json.JsonDocument.Parse(listJson.Output))
        {
            var manifest = Assert.Single(listed.RootElement.EnumerateArray());
            Assert.Equal(("isbi", 24, 24, "binary"), (manifest.GetProperty("name").GetString(), manifest.GetProperty("items").GetArrayLength(),
                manifest.GetProperty("sections").GetInt32(), manifest.GetProperty("maskKind").GetString()));
        }

        using (var shown = System.Text.Json.JsonDocument.Parse(showJson.Output))
        {
            var items = shown.RootElement.GetProperty("items").EnumerateArray().ToList();
            var last = items.Single(i => i.GetProperty("id").GetString() == "slice-23");
            Assert.Equal(("slice-23", 512, 512), (last.GetProperty("id").GetString(), last.GetProperty("width").GetInt32(), last.GetProperty("height").GetInt32()));
            Assert.Equal(64, last.GetProperty("image").GetProperty("sha256").GetString()!.Length);
            Assert.Equal(items.Sum(i => i.GetProperty("image").GetProperty("bytes").GetInt64() + i.GetProperty("mask").GetProperty("bytes").GetInt64()),
                shown.RootElement.GetProperty("bytes").GetInt64());
        }

        Assert.Equal(0, delete.ExitCode);
        Assert.Equal(2, after.ExitCode);
        Assert.Contains("no data set named 'isbi'", after.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DatasetUpload_BadPairs_ExitsWithTwoListingEveryBadFileAndStoresNothing()
    {
        var root = CliRunner.TemporaryDirectory();
        var source = CliRunner.TemporaryDirectory();
        var images = Directory.CreateDirectory(Path.Combine(source, "images")).FullName;
        var masks = Directory.CreateDirectory(Path.Combine(source, "masks")).FullName;
        foreach (var name in new[] { "slice-00.png", "slice-01.png", "slice-02.png" })
        {
            File.Copy(Path.Combine(BundledData.ImagesDirectory, name), Path.Combine(images, name));
            File.Copy(Path.Combine(BundledData.MasksDirectory, name), Path.Combine(masks, name));
        }

        File.WriteAllBytes(Path.Combine(images, "slice-01.png"), [1, 2, 3]);
        File.Copy(Path.Combine(BundledData.MasksDirectory, "slice-05.png"), Path.Combine(masks, "slice-05.png"));

        var (code, _, error) = await CliRunner.RunAsync("dataset", "upload", "two-bad", "--images", images, "--masks", masks, "--root", root);

        Assert.Equal(2, code);
        Assert.Contains("2 problems", error, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(images, "slice-01.png"), error, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(masks, "slice-05.png"), error, StringComparison.Ordinal);
        Assert.DoesNotContain(CliRunner.Snapshot(root).Keys, k => !k.StartsWith(".blobstore", StringComparison.Ordinal));
    }

    [Fact]
    public async Task DatasetList_StrayFolderCorruptManifestAndUnfinishedUpload_ListsTheGoodOneAndNamesEachBadOne()
    {
        var root = CliRunner.TemporaryDirectory();
        Assert.Equal(0, (await CliRunner.RunAsync("dataset", "upload", "isbi", "--images", BundledData.ImagesDirectory, "--masks", BundledData.MasksDirectory, "--root", root)).ExitCode);
        Directory.CreateDirectory(Path.Combine(root, "datasets", "Not_A_Name"));
        File.WriteAllText(Path.Combine(root, "datasets", "Not_A_Name", "manifest.json"), "{}");
        Directory.CreateDirectory(Path.Combine(root, "datasets", "broken"));
        File.WriteAllText(Path.Combine(root, "datasets", "broken", "manifest.json"), "{ not json");
        Directory.CreateDirectory(Path.Combine(root, "datasets", "half", "items"));
        File.WriteAllBytes(Path.Combine(root, "datasets", "half", "items", "a.image.png"), [1, 2, 3]);

        var (code, output, error) = await CliRunner.RunAsync("dataset", "list", "--root", root);

        Assert.True(code == 0, error);
        Assert.StartsWith("isbi ", output, StringComparison.Ordinal);
        Assert.Contains("datasets/Not_A_Name/ is not a data set", error, StringComparison.Ordinal);
        Assert.Contains("broken", error, StringComparison.Ordinal);
        Assert.Contains("not a valid data set manifest", error, StringComparison.Ordinal);
        Assert.Contains("datasets/half/ has no manifest.json", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DatasetList_NoStorageGiven_SaysHowToGiveIt()
    {
        var (code, _, error) = await CliRunner.RunAsync("dataset", "list", "--blob", "");

        Assert.Equal(2, code);
        Assert.Contains("--blob", error, StringComparison.Ordinal);
        Assert.Contains("UNET_BLOB", error, StringComparison.Ordinal);
    }
}
