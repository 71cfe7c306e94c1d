using UNetCluster.Contracts.Jobs;
using UNetCluster.Data.Imaging;
using UNetCluster.Data.Storage;
using UNetCluster.Model;
using UNetCluster.Training.Jobs;
using UNetCluster.Training.Settings;

namespace UNetCluster.Training.Tests.Jobs;

/// <summary>What a submit is refused for before anything is created: specs a worker could never train.</summary>
public sealed class JobSpecValidatorTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "unetcluster-tests", "validator-" + Guid.NewGuid().ToString("N"));
    private readonly JobStorage _storage;

    public JobSpecValidatorTests()
    {
        _storage = new JobStorage(new StorageSettings { Root = Path.Combine(_root, "storage") });
    }

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Fact]
    public async Task Check_StoredDataSetSmallerThanTheTilesOutput_RefusesAGivenTileAndFitsThePresetsNamingTheLargestAccepted()
    {
        var (images, masks) = WriteSections("small", 64);
        await new DataSetStore(_storage.Blobs).UploadAsync("small-sections", images, masks, cancellationToken: TestContext.Current.CancellationToken);
        var validator = new JobSpecValidator(new DataCatalog(new DataSettings { Cache = Path.Combine(_root, "cache") }, _storage));

        var errors = validator.Validate(new JobSpec { DataSet = "small-sections", Preset = "tiny", TileSize = 124 }, "tile-too-large");
        var (open, stored) = validator.Check(new JobSpec { DataSet = "small-sections", Preset = "tiny" }, "tile-open");

        // The tiny preset's 124 px tile predicts 84 x 84 pixels; the largest depth-2 tile with an output of at most 64 is 104.
        var error = Assert.Single(errors);
        Assert.Contains("--tile 124 is too large for data set 'small-sections'", error, StringComparison.Ordinal);
        Assert.Contains("(84 x 84) does not fit section 'section-0' (64 x 64)", error, StringComparison.Ordinal);
        Assert.Contains("at most 104", error, StringComparison.Ordinal);
        Assert.Empty(validator.Validate(new JobSpec { DataSet = "small-sections", Preset = "tiny", TileSize = 104 }, "tile-fits"));

        // No tile given: the preset's does not fit, so the spec stored (the one every silo builds from) holds the largest that does.
        Assert.Empty(open);
        Assert.Equal(104, stored.TileSize);
        Assert.Equal(64, TileGeometry.OutputSize(JobOptions.Build(stored).Model, JobOptions.Build(stored).TileSize));
        Assert.False(Directory.Exists(Path.Combine(_root, "cache")), "the sizes come from the manifest: nothing is fetched");
    }

    [Fact]
    public void Validate_LocalDataSetOfTwoPixelSections_SaysNoTileFits()
    {
        var (images, masks) = WriteSections("tiny", 2);
        var catalog = new DataCatalog(new DataSettings { DataSets = { ["two-pixels"] = new DataSetFolders { Images = images, Masks = masks } } }, _storage);

        var errors = new JobSpecValidator(catalog).Validate(new JobSpec { DataSet = "two-pixels", Preset = "tiny" }, null);

        Assert.Contains(errors, e => e.Contains("--tile 124 is too large", StringComparison.Ordinal) && e.Contains("no tile fits", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Validate_StoredClassMasks_TakesTheCountFromTheDataRefusesTooFewClassesAndABorderClass()
    {
        var (images, masks) = WriteSections("classes", 128, foreground: 3);
        var manifest = await new DataSetStore(_storage.Blobs).UploadAsync(
            "class-sections", images, masks, maskKind: Data.DataSets.MaskKind.Classes, cancellationToken: TestContext.Current.CancellationToken);
        var validator = new JobSpecValidator(new DataCatalog(new DataSettings { Cache = Path.Combine(_root, "cache") }, _storage));

        var (open, stored) = validator.Check(new JobSpec { DataSet = "class-sections", Preset = "tiny" }, "open");
        var tooFew = validator.Validate(new JobSpec { DataSet = "class-sections", Preset = "tiny", Classes = 2 }, "too-few");
        var border = validator.Validate(new JobSpec { DataSet = "class-sections", Preset = "tiny", Classes = 4, BorderClass = true }, "border");
        var fits = validator.Validate(new JobSpec { DataSet = "class-sections", Preset = "tiny", Classes = 4 }, "fits");

        Assert.Equal((Data.DataSets.MaskKind.Classes, 4), (manifest.MaskKind, manifest.Classes));
        Assert.Empty(open);                                                   // no --classes: the data's count, as unet train takes it
        Assert.Equal(4, stored.Classes);
        Assert.Equal(4, JobOptions.Build(stored).Model.Classes);
        Assert.Contains("classes 2 is too few for data set 'class-sections': its masks hold class indices 0..3; expected classes 4 (--classes 4) or more.", Assert.Single(tooFew));
        Assert.Contains(border, e => e.Contains("--border-class", StringComparison.Ordinal) || e.Contains("border-class", StringComparison.Ordinal));
        Assert.Empty(fits);
    }

    [Fact]
    public async Task Check_StoredRgbDataSet_StoresTheSpecWithThreeChannelsAndRefusesAnotherCount()
    {
        var (images, masks) = WriteSections("rgb", 128, rgb: true);
        await new DataSetStore(_storage.Blobs).UploadAsync("rgb-sections", images, masks, cancellationToken: TestContext.Current.CancellationToken);
        var validator = new JobSpecValidator(new DataCatalog(new DataSettings { Cache = Path.Combine(_root, "cache") }, _storage));

        var (errors, spec) = validator.Check(new JobSpec { DataSet = "rgb-sections", Preset = "tiny" }, "rgb");
        var mismatch = validator.Validate(new JobSpec { DataSet = "rgb-sections", Preset = "tiny", Channels = 1 }, "gray");

        Assert.Empty(errors);
        Assert.Equal(3, spec.Channels);
        Assert.Equal(3, JobOptions.Build(spec).Model.InputChannels);
        Assert.Contains("--channels 1 does not match data set 'rgb-sections': its images have 3 channels", Assert.Single(mismatch), StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_FiveChannels_IsRefusedNamingTheOption()
    {
        var (images, masks) = WriteSections("gray", 128);
        var catalog = new DataCatalog(new DataSettings { DataSets = { ["gray"] = new DataSetFolders { Images = images, Masks = masks } } }, _storage);

        var errors = new JobSpecValidator(catalog).Validate(new JobSpec { DataSet = "gray", Preset = "tiny", Channels = 5 }, null);

        Assert.Contains(errors, e => e.Contains("--channels 5 is invalid: expected an integer from 1 to 4", StringComparison.Ordinal));
    }

    /// <summary>Three square sections of <paramref name="side"/> pixels (gray, or RGB), each with a mask of both classes.</summary>
    private (string Images, string Masks) WriteSections(string folder, int side, byte foreground = 255, bool rgb = false)
    {
        var images = Directory.CreateDirectory(Path.Combine(_root, folder, "images")).FullName;
        var masks = Directory.CreateDirectory(Path.Combine(_root, folder, "masks")).FullName;
        for (var i = 0; i < 3; i++)
        {
            var image = new byte[side * side];
            var mask = new byte[side * side];
            for (var p = 0; p < image.Length; p++)
            {
                image[p] = (byte)((p * 7 + i) % 256);
                mask[p] = p % side < side / 2 ? foreground : (byte)0;
            }

            if (rgb)
            {
                PngWriter.WriteRgb8(Path.Combine(images, $"section-{i}.png"), [.. image.SelectMany(v => new[] { v, (byte)(255 - v), (byte)(v / 3) })], side, side);
            }
            else
            {
                PngWriter.WriteGray8(Path.Combine(images, $"section-{i}.png"), image, side, side);
            }

            PngWriter.WriteGray8(Path.Combine(masks, $"section-{i}.png"), mask, side, side);
        }

        return (images, masks);
    }
}
