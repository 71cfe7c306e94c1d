using UNetCluster.Model.Inference;
using UNetCluster.Model.Modules;
using static TorchSharp.torch;

namespace UNetCluster.Model.Tests.Inference;

public sealed class OverlapTilePredictorTests
{
    // Depth 2, valid: input 4b + 28 gives output 4b - 12, margin 20. Tile 68 -> 28; tile 96 -> 56.
    private static readonly UNetOptions Small = new(Depth: 2, BaseChannels: 16);

    [Fact]
    public void RequireTileFits_TileWhoseEstimatedMemoryExceedsTheBound_NamesTheLargestTileThatFitsAndThatOneIsAccepted()
    {
        const long bound = 32L << 20;

        var error = Assert.Throws<ArgumentException>(() => OverlapTilePredictor.RequireTileFits(Small, 964, 2000, 2000, bound, explicitTile: true));

        Assert.StartsWith("--tile 964 needs about", error.Message, StringComparison.Ordinal);
        var match = System.Text.RegularExpressions.Regex.Match(error.Message, "at most (\\d+)\\.");
        Assert.True(match.Success, error.Message);
        var largest = int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(largest, 68, 963);
        OverlapTilePredictor.RequireTileFits(Small, largest, 2000, 2000, bound, explicitTile: true);   // does not throw
    }

    [Fact]
    public void MemoryEstimate_PaperNetwork_CountsThePapersParameters()
    {
        Assert.Equal(31_030_658, MemoryEstimate.Parameters(UNetOptions.Paper));
        Assert.True(MemoryEstimate.InferenceBytes(UNetOptions.Paper, 572, 1) > 572L * 572 * 64 * 4 * 2, "at least the first level's two feature maps");
    }

    [Fact]
    public void Blocks_AnImageOfSevenByFiveTilesInBlocksOfTwo_CoverItOnceCutAtItsBorder()
    {
        using var model = new UNet(Small);
        var predictor = new OverlapTilePredictor(model, tileSize: 68, blockSize: 56);   // stride 28: 2 x 2 tiles a block

        var blocks = predictor.Blocks(height: 190, width: 130);   // 7 x 5 tiles of 28

        Assert.Equal(2, predictor.BlockTiles);
        Assert.Equal(4 * 3, blocks.Count);
        Assert.Equal(190L * 130, blocks.Sum(b => b.Height * b.Width));
        var last = blocks[^1];
        Assert.Equal((6, 4, 1, 1, 168L, 112L, 22L, 18L), (last.Row, last.Column, last.Rows, last.Columns, last.Top, last.Left, last.Height, last.Width));
        Assert.Single(new OverlapTilePredictor(model, tileSize: 68).Blocks(190, 130));   // the default block holds it whole
    }

    [Fact]
    public void PredictBlock_EachBlockAlone_EqualsItsRegionOfTheWholeImageBitForBit()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        using var model = new UNet(Small);
        var image = randn(1, 90, 75);
        var blocked = new OverlapTilePredictor(model, tileSize: 68, blockSize: 56);

        var whole = blocked.PredictProbabilities(image);
        var unblocked = new OverlapTilePredictor(model, tileSize: 68).PredictProbabilities(image);

        foreach (var block in blocked.Blocks(90, 75))
        {
            var alone = blocked.PredictBlock(image, block);
            Assert.True(alone.Equals(whole.narrow(1, block.Top, block.Height).narrow(2, block.Left, block.Width)), $"block {block}");
        }

        // Other batches of the same tiles: equal to float precision (whether bit for bit depends on the kernels).
        Assert.True(whole.allclose(unblocked, rtol: 1e-5, atol: 1e-6));
    }

    [Fact]
    public void PixelMaps_BlocksStitchedAndSerialised_EqualTheWholeImagesMaps()
    {
        using var scope = NewDisposeScope();
        manual_seed(6);
        using var model = new UNet(Small with { Classes = 3 });
        var image = randn(1, 60, 61);
        var predictor = new OverlapTilePredictor(model, tileSize: 68, blockSize: 28);
        var classes = new PredictionClasses(BorderClass: true);

        var whole = PixelMaps.From(predictor.PredictProbabilities(image), 0.5, classes);
        var parts = predictor.Blocks(60, 61)
            .Select(b => (b.Top, b.Left, PixelMaps.Deserialize(PixelMaps.From(predictor.PredictBlock(image, b), 0.5, classes).Serialize(), "block")))
            .ToList();
        var stitched = PixelMaps.Stitch(61, 60, 3, parts);

        Assert.Equal(whole.Probability, stitched.Probability);
        Assert.Equal(whole.Mask, stitched.Mask);
        Assert.Equal(whole.ClassMap, stitched.ClassMap);
        Assert.All(Enumerable.Range(0, 3), k => Assert.Equal(whole.PerClass[k], stitched.PerClass[k]));
        Assert.Equal(whole.Background, stitched.Background);   // a border-class model's objects grow from these floats
        Assert.Equal(whole.Interior, stitched.Interior);
        Assert.Throws<InvalidDataException>(() => PixelMaps.Stitch(61, 60, 3, parts.Skip(1)));
        Assert.Throws<InvalidDataException>(() => PixelMaps.Deserialize([1, 2, 3], "three bytes"));
    }

    [Fact]
    public void PredictProbabilities_SmallTilesOnA56Image_EqualsOneWholeTile()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var model = new UNet(Small);
        var image = randn(1, 56, 56);
        var tiled = new OverlapTilePredictor(model, tileSize: 68).PredictProbabilities(image);   // 2x2 tiles of 28
        var whole = new OverlapTilePredictor(model, tileSize: 96).PredictProbabilities(image);   // one tile of 56
        Assert.Equal(new long[] { 2, 56, 56 }, tiled.shape);
        Assert.True(tiled.allclose(whole, rtol: 1e-4, atol: 1e-5), $"max difference {(tiled - whole).abs().max().item<float>()}");
    }

    [Fact]
    public void PredictProbabilitiesAugmented_FlippedOrTurnedImage_GivesTheSameProbabilitiesFlippedOrTurned()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        using var model = new UNet(Small);
        var predictor = new OverlapTilePredictor(model, tileSize: 68);
        var image = randn(1, 61, 45);

        var averaged = predictor.PredictProbabilitiesAugmented(image);
        var ofFlipped = predictor.PredictProbabilitiesAugmented(image.flip(-1));
        var ofTurned = predictor.PredictProbabilitiesAugmented(rot90(image, 1, (-2, -1)));
        var plain = predictor.PredictProbabilities(image);

        Assert.Equal(new long[] { 2, 61, 45 }, averaged.shape);
        Assert.True(averaged.sum(dim: 0).allclose(ones_like(averaged[0]), atol: 1e-5), "probabilities sum to 1 at every pixel");
        Assert.True(ofFlipped.allclose(averaged.flip(-1), atol: 1e-5), $"flip: max difference {(ofFlipped - averaged.flip(-1)).abs().max().item<float>()}");
        Assert.True(ofTurned.allclose(rot90(averaged, 1, (-2, -1)), atol: 1e-5), "a quarter turn of the image turns the averaged probabilities");
        Assert.False(predictor.PredictProbabilities(image.flip(-1)).allclose(plain.flip(-1), atol: 1e-5),
            "without averaging, the network's prediction does not follow a flip: the test can fail");
    }

    [Fact]
    public void PredictProbabilities_NonSquareImageNotAMultipleOfTheTile_CoversEveryPixel()
    {
        using var scope = NewDisposeScope();
        manual_seed(4);
        using var model = new UNet(Small);
        var image = randn(1, 61, 45);
        var tiled = new OverlapTilePredictor(model, tileSize: 68, batchSize: 3).PredictProbabilities(image);   // 3x2 tiles
        var whole = new OverlapTilePredictor(model, tileSize: 96).PredictProbabilities(image);                 // 2x1 of 56
        Assert.Equal(new long[] { 2, 61, 45 }, tiled.shape);
        Assert.True(tiled.sum(dim: 0).allclose(ones_like(tiled[0]), atol: 1e-5), "probabilities sum to 1 at every pixel");
        Assert.True(tiled.allclose(whole, rtol: 1e-4, atol: 1e-5), $"max difference {(tiled - whole).abs().max().item<float>()}");
    }

    [Fact]
    public void PredictProbabilities_ImageSmallerThanTheMargin_IsMirroredAndPredicted()
    {
        using var scope = NewDisposeScope();
        using var model = new UNet(Small);
        var probabilities = new OverlapTilePredictor(model, tileSize: 68).PredictProbabilities(randn(1, 7, 9));
        Assert.Equal(new long[] { 2, 7, 9 }, probabilities.shape);
        Assert.True(probabilities.isfinite().all().item<bool>());
    }

    [Fact]
    public void Constructor_InvalidTile_NamesNearestValidSizes()
    {
        using var model = new UNet(Small);
        var error = Assert.Throws<ArgumentException>(() => new OverlapTilePredictor(model, tileSize: 70));
        Assert.Contains("68 or 72", error.Message, StringComparison.Ordinal);
    }
}
