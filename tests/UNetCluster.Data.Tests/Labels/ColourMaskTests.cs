using UNetCluster.Data.DataSets;
using UNetCluster.Data.Imaging;
using UNetCluster.Data.Tests.TestSupport;

namespace UNetCluster.Data.Tests.Labels;

/// <summary>
/// Colour masks: a colour class mask whose colours <c>classes.json</c> maps to classes, and colour-coded instance masks
/// whose objects are the connected regions of one colour.
/// </summary>
public sealed class ColourMaskTests : IDisposable
{
    private const int Width = 8;
    private const int Height = 4;
    private const string Table = """
        {"classes": [{"index": 0, "name": "background", "colour": "#000000"},
                     {"index": 1, "name": "gland", "colour": [255, 0, 0]},
                     {"index": 2, "name": "stroma", "colour": "#00ff00"}]}
        """;

    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void LoadLabelled_ColourClassMaskWithClassesJson_MapsEachColourToItsClassAndName()
    {
        var (images, masks) = Folders();
        File.WriteAllText(Path.Combine(masks, ClassTable.FileName), Table);
        WritePair(images, masks, x => x < 3 ? (0, 0, 0) : x < 6 ? (255, 0, 0) : (0, 255, 0));

        var set = DataSetLoader.LoadLabelled(images, masks, maskKind: MaskKind.Classes);

        Assert.Equal((MaskKind.Classes, 3), (set.Kind, set.Classes));
        Assert.Equal(["background", "gland", "stroma"], set.ClassNames!);
        Assert.Equal(new byte[] { 0, 0, 0, 1, 1, 1, 2, 2 }, Assert.Single(set.Sections).Mask[..Width]);
    }

    [Fact]
    public void LoadLabelled_ColourWithNoEntryInClassesJson_RefusesNamingTheFilePixelAndColour()
    {
        var (images, masks) = Folders();
        File.WriteAllText(Path.Combine(masks, ClassTable.FileName), Table);
        WritePair(images, masks, x => x == 5 ? (0, 0, 255) : (0, 0, 0));

        var error = Assert.Throws<DataSetValidationException>(() => DataSetLoader.LoadLabelled(images, masks, maskKind: MaskKind.Classes));

        var problem = Assert.Single(error.Problems);
        Assert.Contains(Path.Combine(masks, "a.png") + ": colour #0000ff at pixel (x 5, y 0) has no entry in classes.json", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadLabelled_ColourClassMaskWithoutClassesJson_RefusesSayingWhatIsMissing()
    {
        var (images, masks) = Folders();
        WritePair(images, masks, x => x < 4 ? (0, 0, 0) : (255, 0, 0));

        var error = Assert.Throws<DataSetValidationException>(() => DataSetLoader.LoadLabelled(images, masks, maskKind: MaskKind.Classes));

        Assert.Contains("there is no classes.json with colours beside the masks", Assert.Single(error.Problems), StringComparison.Ordinal);
    }

    [Fact]
    public void LoadLabelled_ColourCodedInstances_EachRegionOfOneColourIsAnObjectAndTouchingOnesAreSeparated()
    {
        // Red x 0..2, green x 3..5 (touching the red one), background x 6, red again at x 7: three objects.
        var (images, masks) = Folders();
        WritePair(images, masks, x => x < 3 ? (255, 0, 0) : x < 6 ? (0, 255, 0) : x == 6 ? (0, 0, 0) : (255, 0, 0));

        var section = Assert.Single(DataSetLoader.LoadLabelled(images, masks, maskKind: MaskKind.Instances).Sections);

        Assert.Equal(new byte[] { 1, 1, 0, 0, 1, 1, 0, 1 }, section.Mask[..Width]);       // the touching columns 2 | 3 become the border
        Assert.Equal(new byte[] { 0, 0, 1, 1, 0, 0, 0, 0 }, section.Border![..Width]);
        Assert.Equal(3, section.Instances!.Where(id => id != 0).Distinct().Count());
        Assert.NotEqual(section.Instances![0], section.Instances[7]);                          // one colour, two regions: two objects
    }

    private static void WritePair(string images, string masks, Func<int, (int R, int G, int B)> colourOfColumn)
    {
        PngWriter.WriteGray8(Path.Combine(images, "a.png"), [.. TestImages.Pattern(Width, Height, 8).Select(v => (byte)v)], Width, Height);
        var rgb = new byte[Width * Height * 3];
        for (var i = 0; i < Width * Height; i++)
        {
            var (r, g, b) = colourOfColumn(i % Width);
            (rgb[3 * i], rgb[(3 * i) + 1], rgb[(3 * i) + 2]) = ((byte)r, (byte)g, (byte)b);
        }

        PngWriter.WriteRgb8(Path.Combine(masks, "a.png"), rgb, Width, Height);
    }

    private (string Images, string Masks) Folders() => (_temp.Folder("images"), _temp.Folder("masks"));
}
