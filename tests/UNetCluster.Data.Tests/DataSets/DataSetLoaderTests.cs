using UNetCluster.Data.DataSets;
using UNetCluster.Data.Imaging;
using UNetCluster.Data.Tests.TestSupport;

namespace UNetCluster.Data.Tests.DataSets;

public sealed class DataSetLoaderTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void LoadLabelled_BundledIsbi_Returns24SectionsWithBinaryMasksOfTheirImagesSize()
    {
        var set = DataSetLoader.LoadLabelled(BundledData.ImagesDirectory, BundledData.MasksDirectory);

        Assert.Equal(24, set.Sections.Count);
        Assert.Equal(Enumerable.Range(0, 24).Select(i => $"slice-{i:00}"), set.Sections.Select(s => s.Id));
        foreach (var section in set.Sections)
        {
            Assert.Equal((512, 512, 8), (section.Image.Width, section.Image.Height, section.Image.BitDepth));
            Assert.Equal(512 * 512, section.Mask.Length);
            Assert.All(section.Mask, m => Assert.True(m is 0 or 1));
            // Cell interiors (255 -> 1) cover most of an EM section; membranes (0) are thin but present.
            var foreground = section.Mask.Count(m => m == 1) / (double)section.Mask.Length;
            Assert.InRange(foreground, 0.5, 0.95);
        }

        var rawMask = ImageReader.Read(TestImages.BundledMask("slice-07")).Values;
        Assert.Equal(rawMask.Select(v => v == 255 ? (byte)1 : (byte)0), set.Sections[7].Mask);
    }

    [Fact]
    public void LoadImages_BundledUnlabelledFolder_Returns30ImagesInNameOrder()
    {
        var images = DataSetLoader.LoadImages(BundledData.UnlabelledDirectory);

        Assert.Equal(30, images.Count);
        Assert.EndsWith("test-00.png", images[0].Source, StringComparison.Ordinal);
        Assert.EndsWith("test-29.png", images[^1].Source, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadImages_OneTiffStack_ReturnsEveryPage()
    {
        var path = _temp.File("stack.tif");
        TestImages.WriteTiff(path, 10, 6, 16, [.. Enumerable.Range(0, 4).Select(p => TestImages.Pattern(10, 6, 16, p))]);

        var images = DataSetLoader.LoadImages(path);

        Assert.Equal([0, 1, 2, 3], images.Select(i => i.Page));
    }

    [Fact]
    public void LoadLabelled_TiffImageWithPngMaskAndReadme_PairsByStemAndIgnoresReadme()
    {
        var (images, masks) = (_temp.Folder("images"), _temp.Folder("masks"));
        var values = ImageReader.Read(TestImages.BundledImage("slice-03")).Values;
        TestImages.WriteTiff(Path.Combine(images, "slice-03.tif"), 512, 512, 8, [values]);
        File.Copy(TestImages.BundledMask("slice-03"), Path.Combine(masks, "slice-03.png"));
        File.WriteAllText(Path.Combine(images, "README.md"), "notes");

        var set = DataSetLoader.LoadLabelled(images, masks);

        var section = Assert.Single(set.Sections);
        Assert.Equal("slice-03", section.Id);
        Assert.Equal(values, section.Image.Values);
    }

    [Fact]
    public void LoadLabelled_ZeroOneMask_IsAcceptedWithOnesAsForeground()
    {
        var (images, masks) = (_temp.Folder("images"), _temp.Folder("masks"));
        PngWriter.WriteGray8(Path.Combine(images, "a.png"), [10, 20, 30, 40], 2, 2);
        PngWriter.WriteGray8(Path.Combine(masks, "a.png"), [0, 1, 1, 0], 2, 2);

        var set = DataSetLoader.LoadLabelled(images, masks);

        Assert.Equal([0, 1, 1, 0], set.Sections[0].Mask);
    }

    [Fact]
    public void LoadLabelled_TiffStacks_ReturnsOneSectionPerPageWithPageIds()
    {
        var (images, masks) = (_temp.Folder("images"), _temp.Folder("masks"));
        var pages = Enumerable.Range(0, 3).Select(p => TestImages.Pattern(16, 8, 16, p)).ToList();
        var maskPages = Enumerable.Range(0, 3)
            .Select(p => Enumerable.Range(0, 128).Select(i => (ushort)((i + p) % 3 == 0 ? 65535 : 0)).ToArray())
            .ToList();
        TestImages.WriteTiff(Path.Combine(images, "volume.tif"), 16, 8, 16, pages);
        TestImages.WriteTiff(Path.Combine(masks, "volume.tiff"), 16, 8, 16, maskPages);

        var set = DataSetLoader.LoadLabelled(images, masks);

        Assert.Equal(["volume#0", "volume#1", "volume#2"], set.Sections.Select(s => s.Id));
        Assert.Equal(pages[2], set.Sections[2].Image.Values);
        Assert.Equal(maskPages[1].Select(v => v > 0 ? (byte)1 : (byte)0), set.Sections[1].Mask);
    }

    [Fact]
    public void LoadLabelled_MaskStackWithFewerPages_ThrowsNamingBothFiles()
    {
        var (images, masks) = (_temp.Folder("images"), _temp.Folder("masks"));
        TestImages.WriteTiff(Path.Combine(images, "volume.tif"), 4, 4, 8, [new ushort[16], new ushort[16], new ushort[16]]);
        TestImages.WriteTiff(Path.Combine(masks, "volume.tif"), 4, 4, 8, [new ushort[16], new ushort[16]]);

        var error = Assert.Throws<DataSetValidationException>(() => DataSetLoader.LoadLabelled(images, masks));

        var problem = Assert.Single(error.Problems);
        Assert.Contains("volume.tif: mask has 2 pages but its image", problem, StringComparison.Ordinal);
        Assert.Contains("has 3 pages", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadLabelled_TruncatedImage_ThrowsNamingFileAndLeavesFoldersUnchanged()
    {
        var (images, masks) = CopyBundled("slice-00", "slice-01");
        TestImages.CopyTruncated(TestImages.BundledImage("slice-01"), Path.Combine(images, "slice-01.png"));
        var before = FolderSnapshot.Take(_temp.Path);

        var error = Assert.Throws<DataSetValidationException>(() => DataSetLoader.LoadLabelled(images, masks));

        var problem = Assert.Single(error.Problems);
        Assert.Contains(Path.Combine(images, "slice-01.png") + ": is truncated or corrupt", problem, StringComparison.Ordinal);
        Assert.Contains(InvalidImageException.Accepted, problem, StringComparison.Ordinal);
        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
        Assert.Equal(before, FolderSnapshot.Take(_temp.Path));
    }

    [Fact]
    public void LoadLabelled_MaskOfAnotherSize_ThrowsGivingBothSizes()
    {
        var (images, masks) = CopyBundled("slice-00");
        PngWriter.WriteGray8(Path.Combine(masks, "slice-00.png"), new byte[256 * 256], 256, 256);
        var before = FolderSnapshot.Take(_temp.Path);

        var error = Assert.Throws<DataSetValidationException>(() => DataSetLoader.LoadLabelled(images, masks));

        var problem = Assert.Single(error.Problems);
        Assert.StartsWith(Path.Combine(masks, "slice-00.png"), problem, StringComparison.Ordinal);
        Assert.Contains("mask is 256x256 pixels but its image", problem, StringComparison.Ordinal);
        Assert.Contains("is 512x512; a mask must have the same width and height as its image", problem, StringComparison.Ordinal);
        Assert.Equal(before, FolderSnapshot.Take(_temp.Path));
    }

    [Fact]
    public void LoadPair_OneStoredItem_GivesTheSectionsLoadLabelledGives()
    {
        var (images, masks) = CopyBundled("slice-03", "slice-04");

        var pair = DataSetLoader.LoadPair("slice-04", Path.Combine(images, "slice-04.png"), Path.Combine(masks, "slice-04.png"));

        var whole = DataSetLoader.LoadLabelled(images, masks).Sections[1];
        var section = Assert.Single(pair);
        Assert.Equal("slice-04", section.Id);
        Assert.Equal(whole.Mask, section.Mask);
        Assert.Equal(whole.Image.Normalised(), section.Image.Normalised());
    }

    [Fact]
    public void LoadPair_MaskOfAnotherSizeOrTruncatedImage_ThrowsNamingEachFile()
    {
        var (images, masks) = CopyBundled("slice-00");
        var image = Path.Combine(images, "slice-00.png");
        var mask = Path.Combine(masks, "slice-00.png");
        PngWriter.WriteGray8(mask, new byte[256 * 256], 256, 256);

        var sized = Assert.Throws<DataSetValidationException>(() => DataSetLoader.LoadPair("slice-00", image, mask));
        File.WriteAllBytes(image, File.ReadAllBytes(image)[..300]);
        var truncated = Assert.Throws<DataSetValidationException>(() => DataSetLoader.LoadPair("slice-00", image, mask));

        Assert.StartsWith(mask, Assert.Single(sized.Problems), StringComparison.Ordinal);
        Assert.Contains("mask is 256x256 pixels", sized.Problems[0], StringComparison.Ordinal);
        Assert.Contains(image, Assert.Single(truncated.Problems), StringComparison.Ordinal);
    }

    [Fact]
    public void LoadLabelled_MaskWithGrayValues_ThrowsSayingItIsNotBinary()
    {
        var (images, masks) = CopyBundled("slice-00");
        var mask = ImageReader.Read(TestImages.BundledMask("slice-00")).Values.Select(v => (byte)v).ToArray();
        mask[0] = 128;
        mask[1] = 3;
        PngWriter.WriteGray8(Path.Combine(masks, "slice-00.png"), mask, 512, 512);
        var before = FolderSnapshot.Take(_temp.Path);

        var error = Assert.Throws<DataSetValidationException>(() => DataSetLoader.LoadLabelled(images, masks));

        var problem = Assert.Single(error.Problems);
        Assert.StartsWith(Path.Combine(masks, "slice-00.png") + ": mask is not binary", problem, StringComparison.Ordinal);
        Assert.Contains("2 pixel(s) are neither 0 nor 255", problem, StringComparison.Ordinal);
        Assert.Contains("(0, 3, 128, 255)", problem, StringComparison.Ordinal);
        Assert.Contains("accepted: a 8-bit mask with only 0 and 255", problem, StringComparison.Ordinal);
        Assert.Equal(before, FolderSnapshot.Take(_temp.Path));
    }

    [Fact]
    public void LoadLabelled_RgbMaskUnderAuto_RefusesNamingTheColourMaskKinds()
    {
        var (images, masks) = CopyBundled("slice-00");
        PngWriter.WriteRgb8(Path.Combine(masks, "slice-00.png"), new byte[512 * 512 * 3], 512, 512);
        var before = FolderSnapshot.Take(_temp.Path);

        var error = Assert.Throws<DataSetValidationException>(() => DataSetLoader.LoadLabelled(images, masks));

        var problem = Assert.Single(error.Problems);
        Assert.Contains("slice-00.png: mask has 3 channels (a colour image)", problem, StringComparison.Ordinal);
        Assert.Contains("--mask-kind classes", problem, StringComparison.Ordinal);
        Assert.Contains("--mask-kind instances", problem, StringComparison.Ordinal);
        Assert.Equal(before, FolderSnapshot.Take(_temp.Path));
    }

    [Fact]
    public void LoadLabelled_EmptyImagesFolder_ThrowsNamingFolderAndAcceptedExtensions()
    {
        var (images, masks) = (_temp.Folder("images"), _temp.Folder("masks"));
        File.WriteAllText(Path.Combine(images, "README.txt"), "to do");
        File.Copy(TestImages.BundledMask("slice-00"), Path.Combine(masks, "slice-00.png"));
        var before = FolderSnapshot.Take(_temp.Path);

        var error = Assert.Throws<DataSetValidationException>(() => DataSetLoader.LoadLabelled(images, masks));

        Assert.Contains(
            $"{images}: the images folder has no image files; accepted extensions: .png, .tif, .tiff", error.Problems[0],
            StringComparison.Ordinal);
        Assert.Contains(Path.Combine(masks, "slice-00.png") + ": mask has no image", error.Problems[1], StringComparison.Ordinal);
        Assert.Equal(2, error.Problems.Count);
        Assert.Equal(before, FolderSnapshot.Take(_temp.Path));
    }

    [Fact]
    public void LoadLabelled_MissingMasksFolder_ThrowsNamingIt()
    {
        var images = _temp.Folder("images");
        File.Copy(TestImages.BundledImage("slice-00"), Path.Combine(images, "slice-00.png"));
        var masks = Path.Combine(_temp.Path, "no-such-masks");

        var error = Assert.Throws<DataSetValidationException>(() => DataSetLoader.LoadLabelled(images, masks));

        Assert.Contains($"{masks}: the masks folder does not exist", error.Problems, StringComparer.Ordinal);
        Assert.False(Directory.Exists(masks));
    }

    [Fact]
    public void LoadLabelled_ImageWithoutMask_ThrowsNamingImageAndExpectedMaskName()
    {
        var (images, masks) = CopyBundled("slice-00", "slice-01");
        File.Delete(Path.Combine(masks, "slice-01.png"));
        var before = FolderSnapshot.Take(_temp.Path);

        var error = Assert.Throws<DataSetValidationException>(() => DataSetLoader.LoadLabelled(images, masks));

        var problem = Assert.Single(error.Problems);
        Assert.StartsWith(Path.Combine(images, "slice-01.png") + ": image has no mask", problem, StringComparison.Ordinal);
        Assert.Contains($"expected a file named 'slice-01' with extension .png, .tif, .tiff in the masks folder {masks}", problem, StringComparison.Ordinal);
        Assert.Equal(before, FolderSnapshot.Take(_temp.Path));
    }

    [Fact]
    public void LoadLabelled_ImageAndMaskTwiceUnderOneStem_ThrowsListingBothFiles()
    {
        var (images, masks) = CopyBundled("slice-00");
        TestImages.WriteTiff(Path.Combine(images, "slice-00.tif"), 4, 4, 8, [new ushort[16]]);

        var error = Assert.Throws<DataSetValidationException>(() => DataSetLoader.LoadLabelled(images, masks));

        Assert.Contains(
            error.Problems,
            p => p.Contains("2 images share the name 'slice-00' (slice-00.png, slice-00.tif)", StringComparison.Ordinal));
    }

    [Fact]
    public void LoadLabelled_SeveralBadFiles_ListsEveryProblemInOneException()
    {
        var (images, masks) = CopyBundled("slice-00", "slice-01", "slice-02", "slice-03");
        TestImages.CopyTruncated(TestImages.BundledImage("slice-00"), Path.Combine(images, "slice-00.png"));
        PngWriter.WriteGray8(Path.Combine(masks, "slice-01.png"), new byte[16], 4, 4);
        PngWriter.WriteGray8(Path.Combine(masks, "slice-02.png"), Enumerable.Repeat((byte)7, 512 * 512).ToArray(), 512, 512);
        File.Delete(Path.Combine(masks, "slice-03.png"));

        var error = Assert.Throws<DataSetValidationException>(() => DataSetLoader.LoadLabelled(images, masks));

        Assert.Equal(4, error.Problems.Count);
        Assert.Contains("slice-00.png: is truncated or corrupt", error.Problems[0], StringComparison.Ordinal);
        Assert.Contains("slice-01.png: mask is 4x4 pixels", error.Problems[1], StringComparison.Ordinal);
        Assert.Contains("slice-02.png: mask is not binary", error.Problems[2], StringComparison.Ordinal);
        Assert.Contains("slice-03.png: image has no mask", error.Problems[3], StringComparison.Ordinal);
        Assert.Contains("is not valid (4 problems)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadLabelled_ManyMasksWithOneProblem_MessageGivesItOneLineNamingFiveFilesAndTheCount()
    {
        // Every mask colour, read as binary: the problem a user meets who forgets --mask-kind on a colour-coded set.
        var stems = Enumerable.Range(0, 7).Select(i => $"slice-{i:00}").ToArray();
        var (images, masks) = CopyBundled(stems);
        foreach (var stem in stems)
        {
            PngWriter.WriteRgb8(Path.Combine(masks, stem + ".png"), Enumerable.Repeat((byte)200, 512 * 512 * 3).ToArray(), 512, 512);
        }

        var error = Assert.Throws<DataSetValidationException>(() => DataSetLoader.LoadLabelled(images, masks, maskKind: MaskKind.Binary));

        Assert.Equal(7, error.Problems.Count);
        Assert.All(error.Problems, p => Assert.Contains(": mask has 3 channels", p, StringComparison.Ordinal));
        var lines = error.Message.Split(Environment.NewLine);
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("The labelled data set", lines[0], StringComparison.Ordinal);
        Assert.Contains("(7 problems):", lines[0], StringComparison.Ordinal);
        var named = string.Join(", ", stems.Take(5).Select(s => Path.Combine(masks, s + ".png")));
        Assert.StartsWith($"  - 7 files ({named} and 2 more): mask has 3 channels", lines[1], StringComparison.Ordinal);
        Assert.DoesNotContain("slice-05.png", lines[1], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, "all 2 masks are entirely background (0)")]
    [InlineData(255, "all 2 masks are entirely foreground (above 0)")]
    public void LoadLabelled_EveryMaskOneClass_ThrowsNamingTheMaskFolderAndWhatIsNeeded(byte value, string held)
    {
        var (images, masks) = CopyBundled("slice-00", "slice-01");
        foreach (var stem in new[] { "slice-00", "slice-01" })
        {
            PngWriter.WriteGray8(Path.Combine(masks, stem + ".png"), Enumerable.Repeat(value, 512 * 512).ToArray(), 512, 512);
        }

        var before = FolderSnapshot.Take(_temp.Path);

        var error = Assert.Throws<DataSetValidationException>(() => DataSetLoader.LoadLabelled(images, masks));

        var problem = Assert.Single(error.Problems);
        Assert.StartsWith($"{masks}: no mask has both foreground and background: {held}", problem, StringComparison.Ordinal);
        Assert.Contains("at least one mask must contain both foreground (255, 65535 or 1) and background (0) pixels", problem, StringComparison.Ordinal);
        Assert.Equal(before, FolderSnapshot.Take(_temp.Path));
    }

    [Fact]
    public void LoadLabelled_OneMaskAllBackgroundOneAllForeground_ThrowsCountingEach()
    {
        var (images, masks) = CopyBundled("slice-00", "slice-01");
        PngWriter.WriteGray8(Path.Combine(masks, "slice-00.png"), new byte[512 * 512], 512, 512);
        PngWriter.WriteGray8(Path.Combine(masks, "slice-01.png"), Enumerable.Repeat((byte)255, 512 * 512).ToArray(), 512, 512);

        var error = Assert.Throws<DataSetValidationException>(() => DataSetLoader.LoadLabelled(images, masks));

        Assert.Contains("each mask is a single class (1 entirely background, 1 entirely foreground)", Assert.Single(error.Problems), StringComparison.Ordinal);
    }

    [Fact]
    public void LoadLabelled_OneMixedMaskBesideAllBackgroundOnes_IsAccepted()
    {
        // Sections without a cell in view are normal; only a set in which no mask has both classes is refused.
        var (images, masks) = CopyBundled("slice-00", "slice-01", "slice-02");
        PngWriter.WriteGray8(Path.Combine(masks, "slice-00.png"), new byte[512 * 512], 512, 512);
        PngWriter.WriteGray8(Path.Combine(masks, "slice-02.png"), new byte[512 * 512], 512, 512);

        var set = DataSetLoader.LoadLabelled(images, masks);

        Assert.Equal(["slice-00", "slice-01", "slice-02"], set.Sections.Select(s => s.Id));
        Assert.All(set.Sections[0].Mask, m => Assert.Equal(0, m));
    }

    [Fact]
    public void LoadLabelled_OneClassMasksAndAnotherProblem_ReportsOnlyTheOtherProblem()
    {
        // The set is judged as a whole only once its files are fine: a missing class among half-read files would mislead.
        var (images, masks) = CopyBundled("slice-00", "slice-01");
        PngWriter.WriteGray8(Path.Combine(masks, "slice-00.png"), new byte[512 * 512], 512, 512);
        TestImages.CopyTruncated(TestImages.BundledMask("slice-01"), Path.Combine(masks, "slice-01.png"));

        var error = Assert.Throws<DataSetValidationException>(() => DataSetLoader.LoadLabelled(images, masks));

        Assert.Contains("slice-01.png: is truncated or corrupt", Assert.Single(error.Problems), StringComparison.Ordinal);
    }

    [Fact]
    public void LoadImages_FolderWithOneBadFile_ThrowsNamingItAndLeavesFolderUnchanged()
    {
        var folder = _temp.Folder("predict");
        File.Copy(TestImages.BundledImage("slice-00"), Path.Combine(folder, "a.png"));
        TestImages.CopyTruncated(TestImages.BundledImage("slice-01"), Path.Combine(folder, "b.png"));
        var before = FolderSnapshot.Take(folder);

        var error = Assert.Throws<DataSetValidationException>(() => DataSetLoader.LoadImages(folder));

        var problem = Assert.Single(error.Problems);
        Assert.Contains("b.png: is truncated or corrupt", problem, StringComparison.Ordinal);
        Assert.Equal(before, FolderSnapshot.Take(folder));
    }

    [Fact]
    public void LoadImages_MissingPath_ThrowsSayingFileOrFolderExpected()
    {
        var path = _temp.File("nothing-here");

        var error = Assert.Throws<DataSetValidationException>(() => DataSetLoader.LoadImages(path));

        Assert.Contains($"{path}: does not exist; expected an image file or a folder of images (.png, .tif, .tiff)", error.Problems);
    }

    [Fact]
    public void LoadLabelled_ConstantSixteenBitImage_ThrowsNamingTheFileAndValue()
    {
        var (images, masks) = CopyBundled("slice-00", "slice-01");
        File.Delete(Path.Combine(images, "slice-01.png"));
        TestImages.WriteGray16Png(Path.Combine(images, "slice-01.png"), Enumerable.Repeat((ushort)1200, 512 * 512).ToArray(), 512, 512);

        var error = Assert.Throws<DataSetValidationException>(() => DataSetLoader.LoadLabelled(images, masks));

        var problem = Assert.Single(error.Problems);
        Assert.Contains("slice-01.png: the 16-bit image holds the single value 1200 in every pixel, so it cannot be normalised", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadImages_ConstantSixteenBitImage_ThrowsNamingTheFile()
    {
        var path = _temp.File("flat.png");
        TestImages.WriteGray16Png(path, new ushort[16 * 16], 16, 16);

        var error = Assert.Throws<DataSetValidationException>(() => DataSetLoader.LoadImages(path));

        Assert.Contains("flat.png: the 16-bit image holds the single value 0 in every pixel", Assert.Single(error.Problems), StringComparison.Ordinal);
    }

    [Fact]
    public void LoadLabelled_GrayAndRgbImages_NamesTheOddFileAndBothCounts()
    {
        var (images, masks) = CopyBundled("slice-00", "slice-01");
        var gray = ImageReader.Read(Path.Combine(images, "slice-00.png")).Values.Select(v => (byte)v).ToArray();
        PngWriter.WriteRgb8(Path.Combine(images, "slice-00.png"), [.. gray.SelectMany(v => new[] { v, v, v })], 512, 512);

        var error = Assert.Throws<DataSetValidationException>(() => DataSetLoader.LoadLabelled(images, masks));

        var problem = Assert.Single(error.Problems);
        Assert.Contains("slice-01.png: image has 1 channel but", problem, StringComparison.Ordinal);
        Assert.Contains("slice-00.png has 3 channels; every image of a data set must have the same number of channels", problem, StringComparison.Ordinal);
    }

    /// <summary>Copies bundled sections (image and mask) into fresh images/ and masks/ folders.</summary>
    private (string Images, string Masks) CopyBundled(params string[] stems)
    {
        var (images, masks) = (_temp.Folder("images"), _temp.Folder("masks"));
        foreach (var stem in stems)
        {
            File.Copy(TestImages.BundledImage(stem), Path.Combine(images, stem + ".png"));
            File.Copy(TestImages.BundledMask(stem), Path.Combine(masks, stem + ".png"));
        }

        return (images, masks);
    }
}
