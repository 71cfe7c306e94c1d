using UNetCluster.Data.DataSets;
using UNetCluster.Data.Imaging;
using UNetCluster.Data.Labels;
using UNetCluster.Data.Tests.TestSupport;
using UNetCluster.Data.WeightMaps;

namespace UNetCluster.Data.Tests.Labels;

/// <summary>
/// Class-index masks (<c>--mask-kind classes</c>) and the three-class border target of instance masks
/// (<c>--border-class</c>): the targets a user's masks load as, and the refusals that name the file.
/// </summary>
public sealed class ClassMaskTests : IDisposable
{
    private const int Width = 12;
    private const int Height = 6;
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>Columns 0-3 class 0, 4-7 class 1, 8-11 class <paramref name="last"/>.</summary>
    private static ushort[] Stripes(int last = 2) =>
        [.. Enumerable.Range(0, Width * Height).Select(i => (ushort)((i % Width) < 4 ? 0 : (i % Width) < 8 ? 1 : last))];

    [Fact]
    public void LoadLabelled_ClassIndexMask_LoadsEachPixelsClassAndCountsTheClasses()
    {
        var (images, masks) = Folders();
        WritePair(images, masks, "a", Stripes(), bitDepth: 8);

        var set = DataSetLoader.LoadLabelled(images, masks, maskKind: MaskKind.Classes);

        var section = Assert.Single(set.Sections);
        Assert.Equal((MaskKind.Classes, 3), (set.Kind, set.Classes));
        Assert.Equal(MaskKind.Classes, section.Kind);
        Assert.Equal(new byte[] { 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2 }, section.Mask[..Width]);
    }

    [Fact]
    public void LoadLabelled_SixteenBitClassMaskWithGivenCount_KeepsTheCount()
    {
        var (images, masks) = Folders();
        WritePair(images, masks, "a", Stripes(), bitDepth: 16);

        var set = DataSetLoader.LoadLabelled(images, masks, maskKind: MaskKind.Classes, classes: 5);

        Assert.Equal(5, set.Classes);
        Assert.Equal(2, Assert.Single(set.Sections).Mask[Width - 1]);
    }

    [Fact]
    public void LoadLabelled_IndexAtOrAboveClasses_RefusesNamingTheFilePixelValueAndCount()
    {
        var (images, masks) = Folders();
        WritePair(images, masks, "a", Stripes(last: 4), bitDepth: 8);

        var error = Assert.Throws<DataSetValidationException>(() => DataSetLoader.LoadLabelled(images, masks, maskKind: MaskKind.Classes, classes: 3));

        var problem = Assert.Single(error.Problems);
        Assert.Contains(Path.Combine(masks, "a.png"), problem, StringComparison.Ordinal);
        Assert.Contains("class index 4 at pixel (x 8, y 0)", problem, StringComparison.Ordinal);
        Assert.Contains("--classes 3 allows the indices 0..2", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadLabelled_SixteenBitIndexAbove255_RefusesSayingTheLimit()
    {
        var (images, masks) = Folders();
        WritePair(images, masks, "a", Stripes(last: 300), bitDepth: 16);

        var error = Assert.Throws<DataSetValidationException>(() => DataSetLoader.LoadLabelled(images, masks, maskKind: MaskKind.Classes));

        Assert.Contains("class index 300", Assert.Single(error.Problems), StringComparison.Ordinal);
        Assert.Contains("at most 256 classes", error.Problems[0], StringComparison.Ordinal);
    }

    [Fact]
    public void LoadLabelled_AutoOnAnEightBitClassMask_RefusesNamingBothKindsItCouldBe()
    {
        var (images, masks) = Folders();
        WritePair(images, masks, "a", Stripes(), bitDepth: 8);

        var error = Assert.Throws<DataSetValidationException>(() => DataSetLoader.LoadLabelled(images, masks));

        var problem = Assert.Single(error.Problems);
        Assert.Contains("a.png: mask is not binary", problem, StringComparison.Ordinal);
        Assert.Contains("--mask-kind instances", problem, StringComparison.Ordinal);
        Assert.Contains("--mask-kind classes", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadLabelled_BinaryKindOnAClassMask_RefusesNamingTheFileAndTheOtherKinds()
    {
        var (images, masks) = Folders();
        WritePair(images, masks, "a", Stripes(), bitDepth: 8);

        var error = Assert.Throws<DataSetValidationException>(() => DataSetLoader.LoadLabelled(images, masks, maskKind: MaskKind.Binary));

        var problem = Assert.Single(error.Problems);
        Assert.Contains(Path.Combine(masks, "a.png"), problem, StringComparison.Ordinal);
        Assert.Contains("--mask-kind binary was given", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadLabelled_BinaryAndInstanceMasksInOneSet_RefusesNamingAFileOfEachKind()
    {
        var (images, masks) = Folders();
        WritePair(images, masks, "ids", Stripes(last: 9), bitDepth: 16);
        WritePair(images, masks, "plain", [.. Stripes().Select(v => (ushort)(v == 0 ? 0 : 65535))], bitDepth: 16);

        var error = Assert.Throws<DataSetValidationException>(() => DataSetLoader.LoadLabelled(images, masks));

        var problem = Assert.Single(error.Problems);
        Assert.Contains("the masks mix kinds", problem, StringComparison.Ordinal);
        Assert.Contains("1 hold object ids (ids.png)", problem, StringComparison.Ordinal);
        Assert.Contains("1 are binary (plain.png)", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void WithBorderClass_TwoTouchingObjects_GivesBackgroundInteriorAndBorderBetweenThem()
    {
        // Two 4x4 squares, ids 5 and 9, touching along x = 3 | 4.
        var ids = new ushort[Width * Height];
        for (var y = 1; y < 5; y++)
        {
            for (var x = 0; x < 4; x++)
            {
                ids[(y * Width) + x] = 5;
                ids[(y * Width) + x + 4] = 9;
            }
        }

        var (target, _, border) = InstanceTargets.FromWithBorder(new GrayImage(Width, Height, ids, 16, "ids.png"));
        var classes = InstanceTargets.WithBorderClass(target, border);

        Assert.Equal(new byte[] { 1, 1, 1, 2, 2, 1, 1, 1, 0, 0, 0, 0 }, classes[(2 * Width)..(3 * Width)]);
        Assert.All(classes[..Width], c => Assert.Equal(0, c));
    }

    [Fact]
    public void WidenBorder_WidthTwoOnTwoTouchingObjects_TakesTwoPixelsOfEachObjectAtTheContactIntoTheBorder()
    {
        var (target, _, border) = InstanceTargets.FromWithBorder(new GrayImage(Width, Height, TwoTouchingSquares(), 16, "ids.png"));

        var (interior, wide) = InstanceTargets.WidenBorder(target, border, Width, Height, borderWidth: 2);
        var classes = InstanceTargets.WithBorderClass(interior, wide);

        Assert.Equal(new byte[] { 1, 1, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0 }, classes[(2 * Width)..(3 * Width)]);
        Assert.Equal(new byte[] { 1, 1, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0 }, classes[(4 * Width)..(5 * Width)]);   // the objects' edge rows too
        Assert.Equal(target.Count(t => t != 0) + border.Count(b => b != 0), interior.Count(t => t != 0) + wide.Count(b => b != 0));
        Assert.Equal(new byte[] { 1, 1, 1, 2, 2, 1, 1, 1 }, InstanceTargets.WithBorderClass(target, border)[(2 * Width)..((2 * Width) + 8)]);   // inputs unchanged
    }

    [Fact]
    public void Border_OutlineOnTwoTouchingObjects_TakesEveryEdgeButTheImagesIntoTheBorder()
    {
        var (target, _, border) = InstanceTargets.FromWithBorder(new GrayImage(Width, Height, TwoTouchingSquares(), 16, "ids.png"));

        var (interior, outline) = InstanceTargets.Border(target, border, Width, Height, BorderKind.Outline, borderWidth: 1);
        var classes = InstanceTargets.WithBorderClass(interior, outline);

        Assert.Equal(new byte[] { 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0 }, classes[Width..(2 * Width)]);           // the top edge
        Assert.Equal(new byte[] { 1, 1, 1, 2, 2, 1, 1, 2, 0, 0, 0, 0 }, classes[(2 * Width)..(3 * Width)]);     // the contact, the right edge; x = 0 is the image's edge
        Assert.Equal(new byte[] { 1, 1, 1, 2, 2, 1, 1, 1 }, InstanceTargets.WithBorderClass(target, border)[(2 * Width)..((2 * Width) + 8)]);   // inputs unchanged
    }

    [Fact]
    public void Core_TwoTouchingDisks_KeepsEachDisksCoreAsInteriorAndTheCoresApartByAboutTheRadius()
    {
        // Two disks of radius 6 whose centres lie 12 px apart on row 10: they touch along x = 15/16.
        const int W = 32, H = 21;
        var ids = new ushort[W * H];
        for (var y = 0; y < H; y++)
        {
            for (var x = 0; x < W; x++)
            {
                ids[(y * W) + x] = (ushort)(((x - 10) * (x - 10)) + ((y - 10) * (y - 10)) <= 36 ? 3 : ((x - 22) * (x - 22)) + ((y - 10) * (y - 10)) <= 36 ? 7 : 0);
            }
        }

        var mask = new GrayImage(W, H, ids, 16, "disks.png");
        var (target, instances, border) = InstanceTargets.FromWithBorder(mask);

        var (interior, rest) = InstanceTargets.Core(target, border, instances, W, H);
        var classes = InstanceTargets.WithBorderClass(interior, rest);

        // Row 10 through both centres: each disk's core is the 6-7 pixels around its centre (a disk's largest distance
        // to its edge, about 7, halved), and 6 px of border lie between the two cores.
        var row = classes[(10 * W)..(11 * W)];
        Assert.Equal("0000222111111122222211111122200", string.Concat(row[..^1].Select(c => (char)('0' + c))));
        Assert.Equal(ids.Count(i => i != 0), interior.Count(t => t != 0) + rest.Count(b => b != 0));   // every object pixel is interior or border
        Assert.All(Enumerable.Range(0, ids.Length).Where(i => border[i] != 0), i => Assert.Equal(2, classes[i]));   // the contacts are border
        var cores = ConnectedComponents.Label(interior, W, H, out var count);
        Assert.Equal(2, count);
        Assert.NotEqual(cores[(10 * W) + 10], cores[(10 * W) + 22]);
        Assert.Equal(1, InstanceTargets.WithBorderClass(target, border)[(10 * W) + 5]);   // inputs unchanged
    }

    [Fact]
    public void WidenBorder_ObjectsThatTouchNothing_KeepTheirInterior()
    {
        var ids = new ushort[Width * Height];
        ids[(2 * Width) + 1] = ids[(2 * Width) + 2] = 3;
        ids[(2 * Width) + 8] = ids[(2 * Width) + 9] = 4;
        var (target, _, border) = InstanceTargets.FromWithBorder(new GrayImage(Width, Height, ids, 16, "apart.png"));

        var (interior, wide) = InstanceTargets.WidenBorder(target, border, Width, Height, borderWidth: 3);

        Assert.Equal(target, interior);
        Assert.All(wide, b => Assert.Equal(0, b));
    }

    [Theory]
    [InlineData(0.7)]   // seeds apart already: the dip is below the seed threshold
    [InlineData(0.5)]   // one seed over both, split at its two peaks
    public void ObjectsFromBorderProbabilities_TwoTouchingBlobsWithNoBorderPredicted_AreTwoObjectsWhereTheInteriorDipsBetweenThem(double seedThreshold)
    {
        // Two touching squares predicted all interior, no border: the interior probability peaks at each centre (0.95)
        // and dips to 0.6 at the contact, as a model that never predicts the border class does.
        var ids = TwoTouchingSquares();
        var labels = InstanceTargets.ObjectsFromBorderProbabilities(
            Background(ids), Interior(ids, [0.8f, 0.95f, 0.8f, 0.6f, 0.6f, 0.8f, 0.95f, 0.8f]), Width, Height, seedThreshold, out var count);

        Assert.Equal(2, count);
        for (var i = 0; i < ids.Length; i++)
        {
            Assert.Equal(ids[i] == 0 ? 0 : ids[i] == 5 ? labels[(2 * Width) + 1] : labels[(2 * Width) + 6], labels[i]);   // each square whole, nothing else
        }

        Assert.NotEqual(labels[(2 * Width) + 1], labels[(2 * Width) + 6]);
    }

    [Theory]
    [InlineData(new[] { 0.8f, 0.95f, 0.9f, 0.88f, 0.88f, 0.9f, 0.95f, 0.8f })]   // two peaks 0.07 above the saddle: texture, not two objects
    [InlineData(new[] { 0.95f, 0.6f, 0.9f, 0.9f, 0.9f, 0.9f, 0.9f, 0.9f })]      // a deep but 4-pixel peak: under a fifth of the seed's area
    public void ObjectsFromBorderProbabilities_AShallowOrSmallSecondPeak_StaysOneObject(float[] profile)
    {
        var ids = TwoTouchingSquares();

        var labels = InstanceTargets.ObjectsFromBorderProbabilities(Background(ids), Interior(ids, profile), Width, Height, seedThreshold: 0.5, out var count);

        Assert.Equal(1, count);
        Assert.All(labels, (l, i) => Assert.Equal(ids[i] == 0 ? 0 : 1, l));
    }

    [Fact]
    public void ObjectsFromMask_TwoTouchingBlobsOfATwoClassModel_AreTwoObjectsCoveringTheMask()
    {
        // A two-class model's mask joins two touching squares: its probability dips to 0.6 at the contact, above the
        // threshold 0.5, so the mask's one component holds two peaks (0.95).
        var ids = TwoTouchingSquares();
        var mask = ids.Select(v => v == 0 ? (byte)0 : (byte)1).ToArray();
        var before = mask.ToArray();
        var probability = Interior(ids, [0.8f, 0.95f, 0.8f, 0.6f, 0.6f, 0.8f, 0.95f, 0.8f]);

        var labels = InstanceTargets.ObjectsFromMask(mask, probability, Width, Height, threshold: 0.5, out var count);
        var shallow = InstanceTargets.ObjectsFromMask(mask, Interior(ids, [0.8f, 0.95f, 0.9f, 0.88f, 0.88f, 0.9f, 0.95f, 0.8f]), Width, Height, 0.5, out var one);

        Assert.Equal(2, count);
        for (var i = 0; i < ids.Length; i++)
        {
            Assert.Equal(ids[i] == 0 ? 0 : ids[i] == 5 ? labels[(2 * Width) + 1] : labels[(2 * Width) + 6], labels[i]);   // each square whole, nothing else
        }

        Assert.NotEqual(labels[(2 * Width) + 1], labels[(2 * Width) + 6]);
        Assert.Equal(1, one);
        Assert.All(shallow, (l, i) => Assert.Equal(mask[i], l));
        Assert.Equal(before, mask);   // the caller's mask unchanged
    }

    [Fact]
    public void ObjectsFromBorderProbabilities_ForegroundWithoutASeed_IsAnObjectOfItsOwn()
    {
        // Row 2: a confident object at x 0-2, background at 3-4, a border-only blob at 5-6 (no interior above 0.3).
        var background = Enumerable.Repeat(0.9f, Width * Height).ToArray();
        var interior = new float[Width * Height];
        foreach (var x in new[] { 0, 1, 2, 5, 6 })
        {
            background[(2 * Width) + x] = 0.1f;
            interior[(2 * Width) + x] = x < 3 ? 0.9f : 0.3f;
        }

        var labels = InstanceTargets.ObjectsFromBorderProbabilities(background, interior, Width, Height, seedThreshold: 0.5, out var count);

        Assert.Equal(2, count);
        Assert.Equal(new[] { 1, 1, 1, 0, 0, 2, 2, 0 }, labels[(2 * Width)..((2 * Width) + 8)]);
        Assert.Equal(5, labels.Count(l => l != 0));
    }

    private static float[] Background(ushort[] ids) => [.. ids.Select(v => v == 0 ? 0.9f : 0.05f)];

    // The interior probability: profile[x] on the objects' pixels, 0.05 elsewhere.
    private static float[] Interior(ushort[] ids, float[] profile) => [.. ids.Select((v, i) => v == 0 ? 0.05f : profile[i % Width])];

    /// <summary>Two 4x4 squares, ids 5 (x 0-3) and 9 (x 4-7), rows 1-4, touching along x = 3 | 4.</summary>
    private static ushort[] TwoTouchingSquares()
    {
        var ids = new ushort[Width * Height];
        for (var y = 1; y < 5; y++)
        {
            for (var x = 0; x < 4; x++)
            {
                ids[(y * Width) + x] = 5;
                ids[(y * Width) + x + 4] = 9;
            }
        }

        return ids;
    }

    [Fact]
    public void Compute_ThreeClasses_GivesEachPresentClassTheSameTotalWeight()
    {
        byte[] mask = [0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 2, 2];

        var weights = WeightMap.Compute(mask, 12, 1, new WeightMapOptions { W0 = 0 });

        Assert.Equal(12f / (3 * 6), weights[0], 5);
        Assert.Equal(12f / (3 * 2), weights[6], 5);
        Assert.Equal(12f / (3 * 4), weights[8], 5);
        Assert.Equal(4f, weights[..6].Sum(), 4);
        Assert.Equal(4f, weights[6..8].Sum(), 4);
    }

    private static void WritePair(string images, string masks, string stem, ushort[] mask, int bitDepth)
    {
        PngWriter.WriteGray8(Path.Combine(images, stem + ".png"), [.. TestImages.Pattern(Width, Height, 8).Select(v => (byte)v)], Width, Height);
        if (bitDepth == 8)
        {
            PngWriter.WriteGray8(Path.Combine(masks, stem + ".png"), [.. mask.Select(v => (byte)v)], Width, Height);
        }
        else
        {
            TestImages.WriteGray16Png(Path.Combine(masks, stem + ".png"), mask, Width, Height);
        }
    }

    private (string Images, string Masks) Folders() => (_temp.Folder("images"), _temp.Folder("masks"));
}
