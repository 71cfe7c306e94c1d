using UNetCluster.Model;
using UNetCluster.Model.Modules;
using static TorchSharp.torch;

namespace UNetCluster.Model.Tests;

public sealed class UNetTests
{
    [Fact]
    public void Forward_Paper572Tile_Returns388Logits()
    {
        using var scope = NewDisposeScope();
        using var model = new UNet(UNetOptions.Paper);
        model.eval();
        using var noGrad = no_grad();
        var logits = model.call(zeros(1, 1, 572, 572));
        Assert.Equal(new long[] { 1, 2, 388, 388 }, logits.shape);
    }

    [Fact]
    public void Constructor_PaperOptions_Has23ConvolutionLayersAnd31030658Parameters()
    {
        using var model = new UNet(UNetOptions.Paper);
        Assert.Equal(23, model.ConvolutionLayerCount);
        Assert.Equal(31_030_658, model.ParameterCount);
    }

    [Fact]
    public void StateDict_PaperOptions_HasPinnedKeys()
    {
        using var model = new UNet(UNetOptions.Paper);
        var expected = new List<string>();
        void DoubleConv(string prefix)
        {
            expected.AddRange([$"{prefix}.conv1.weight", $"{prefix}.conv1.bias", $"{prefix}.conv2.weight", $"{prefix}.conv2.bias"]);
        }

        DoubleConv("inc");
        for (var i = 0; i < 4; i++)
        {
            DoubleConv($"downs.{i}.conv");
        }

        for (var i = 0; i < 4; i++)
        {
            expected.AddRange([$"ups.{i}.up.weight", $"ups.{i}.up.bias"]);
            DoubleConv($"ups.{i}.conv");
        }

        expected.AddRange(["outc.conv.weight", "outc.conv.bias"]);
        Assert.Equal(expected, model.state_dict().Keys.ToList());
        Assert.Equal(46, expected.Count);
    }

    [Fact]
    public void StateDict_NearestUpSampling_NamesTheUpConvolution()
    {
        using var model = new UNet(new UNetOptions(Depth: 2, BaseChannels: 16, UpSampling: UpSampling.Nearest));
        Assert.Contains("ups.0.up.conv.weight", model.state_dict().Keys);
    }

    [Theory]
    [InlineData(2, ConvPadding.Valid, UpSampling.Transposed, 92)]
    [InlineData(3, ConvPadding.Same, UpSampling.Nearest, 64)]
    [InlineData(4, ConvPadding.Valid, UpSampling.Nearest, 188)]
    public void Forward_OptionVariants_ReturnTheComputedOutputSize(int depth, ConvPadding padding, UpSampling up, int tile)
    {
        using var scope = NewDisposeScope();
        var options = new UNetOptions(Depth: depth, BaseChannels: 16, Classes: 3, Padding: padding, UpSampling: up, Dropout: 0.5);
        using var model = new UNet(options);
        var expected = TileGeometry.RequireValid(options, tile);
        var logits = model.call(randn(2, 1, tile, tile));
        Assert.Equal(new long[] { 2, 3, expected, expected }, logits.shape);
    }
}
