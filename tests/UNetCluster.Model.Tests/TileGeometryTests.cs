using UNetCluster.Model;

namespace UNetCluster.Model.Tests;

public sealed class TileGeometryTests
{
    [Theory]
    [InlineData(572, 388)]
    [InlineData(188, 4)]
    [InlineData(204, 20)]
    [InlineData(508, 324)]
    public void OutputSize_PaperPlan_MatchesUnpaddedArithmetic(int input, int output)
    {
        Assert.Equal(output, TileGeometry.OutputSize(UNetOptions.Paper, input));
    }

    [Fact]
    public void ValidInputSizes_PaperPlan_Are16kPlus124FromK4()
    {
        // The bottom map b must leave 16b - 60 >= 1 output pixels, so k = b >= 4: 188 is the smallest tile.
        var valid = Enumerable.Range(1, 1000).Where(s => TileGeometry.IsValidInputSize(UNetOptions.Paper, s)).ToList();
        Assert.Equal(Enumerable.Range(4, valid.Count).Select(k => (16 * k) + 124), valid);
        Assert.Equal(188, TileGeometry.MinimumInputSize(UNetOptions.Paper));
    }

    [Fact]
    public void RequireValid_InvalidSize_NamesNearestValidSizes()
    {
        var error = Assert.Throws<ArgumentException>(() => TileGeometry.RequireValid(UNetOptions.Paper, 570, "--tile"));
        Assert.Contains("--tile 570", error.Message, StringComparison.Ordinal);
        Assert.Contains("556 or 572", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RequireValid_SamePadding_NeedsMultipleOfTwoToTheDepth()
    {
        var options = new UNetOptions(Padding: ConvPadding.Same);
        Assert.Equal(512, TileGeometry.RequireValid(options, 512));
        var error = Assert.Throws<ArgumentException>(() => TileGeometry.RequireValid(options, 500));
        Assert.Contains("496 or 512", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(int.MaxValue)]
    [InlineData(int.MaxValue - 3)]
    [InlineData(TileGeometry.MaximumInputSize + 12)]
    public void RequireValid_SizeAboveTheMaximum_SuggestsOnlyTheLargestValidSize(int tile)
    {
        // 8204 = 16 * 505 + 124 is a size the paper's plan takes, but not a sane tile; int.MaxValue used to
        // overflow the search into "2147483644 or 188".
        var error = Assert.Throws<ArgumentException>(() => TileGeometry.RequireValid(UNetOptions.Paper, tile, "--tile"));

        Assert.Contains($"--tile {tile} is not valid", error.Message, StringComparison.Ordinal);
        Assert.Contains("and at most 8192", error.Message, StringComparison.Ordinal);
        Assert.EndsWith("Nearest valid size: 8188. (Parameter '--tile')", error.Message, StringComparison.Ordinal);
        Assert.True(TileGeometry.IsValidInputSize(UNetOptions.Paper, 8188));
    }

    [Fact]
    public void NearestValidInputSizes_AtAndAboveTheMaximum_StayWithinIt()
    {
        var same = new UNetOptions(Padding: ConvPadding.Same);

        Assert.Equal((8188, null), TileGeometry.NearestValidInputSizes(UNetOptions.Paper, int.MaxValue));
        Assert.Equal((8192, 8192), TileGeometry.NearestValidInputSizes(same, TileGeometry.MaximumInputSize));
        Assert.Equal((8192, null), TileGeometry.NearestValidInputSizes(same, int.MaxValue));
        Assert.Equal(8192, TileGeometry.RequireValid(same, TileGeometry.MaximumInputSize));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    [InlineData(int.MinValue)]
    public void RequireValid_ZeroOrNegative_SuggestsTheSmallestValidSize(int tile)
    {
        var error = Assert.Throws<ArgumentException>(() => TileGeometry.RequireValid(UNetOptions.Paper, tile, "--tile"));

        Assert.Contains($"--tile {tile} is not valid", error.Message, StringComparison.Ordinal);
        Assert.Contains("Nearest valid size: 188.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_BadOption_NamesOptionAndAcceptedRange()
    {
        var error = Assert.Throws<ArgumentException>(() => new UNetOptions(BaseChannels: 0).Validate());
        Assert.Contains("BaseChannels", error.Message, StringComparison.Ordinal);
        Assert.Contains("1 to 1024", error.Message, StringComparison.Ordinal);
    }
}
