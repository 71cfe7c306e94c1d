using TorchSharp;
using UNetCluster.Data.Augmentation;
using UNetCluster.Data.Randomness;
using static TorchSharp.torch;

namespace UNetCluster.Data.Tests.Augmentation;

public sealed class AugmenterTests
{
    private const int Size = 64;

    private static readonly AugmentationOptions ElasticOnly = AugmentationOptions.None with { Elastic = true };

    [Fact]
    public void Apply_SameSeed_GivesBitIdenticalTilesAndLeavesInputsAlone()
    {
        using var scope = torch.NewDisposeScope();
        var (image, mask, weights) = RandomTile(seed: 1);
        var (imageCopy, maskCopy, weightsCopy) = (image.clone(), mask.clone(), weights.clone());
        var augmenter = new Augmenter(new AugmentationOptions());

        var first = augmenter.Apply(image, mask, weights, seed: 123);
        var second = augmenter.Apply(image, mask, weights, seed: 123);

        Assert.True(first.Image.Equals(second.Image));
        Assert.True(first.Mask.Equals(second.Mask));
        Assert.True(first.Weights.Equals(second.Weights));
        Assert.True(image.Equals(imageCopy));
        Assert.True(mask.Equals(maskCopy));
        Assert.True(weights.Equals(weightsCopy));
    }

    [Fact]
    public void Apply_DifferentSeeds_GiveDifferentDeformations()
    {
        using var scope = torch.NewDisposeScope();
        var (image, mask, weights) = RandomTile(seed: 2);
        var augmenter = new Augmenter(ElasticOnly);

        var first = augmenter.Apply(image, mask, weights, seed: 1);
        var second = augmenter.Apply(image, mask, weights, seed: 2);

        Assert.False(first.Image.allclose(second.Image, atol: 1e-3));
        Assert.False(first.Mask.Equals(second.Mask));
    }

    [Fact]
    public void Apply_ElasticSigmaZero_ReturnsTheTileUnchanged()
    {
        using var scope = torch.NewDisposeScope();
        var (image, mask, weights) = RandomTile(seed: 3);
        var augmenter = new Augmenter(ElasticOnly with { ElasticSigmaPixels = 0 });

        var (outImage, outMask, outWeights) = augmenter.Apply(image, mask, weights, seed: 99);

        Assert.True(outImage.allclose(image, rtol: 0, atol: 1e-5));
        Assert.True(outMask.Equals(mask));
        Assert.True(outWeights.Equals(weights));
    }

    [Fact]
    public void Apply_ElasticDeformation_KeepsMaskAsClassIndicesAndWeightsAsInputValues()
    {
        using var scope = torch.NewDisposeScope();
        var (image, mask, _) = RandomTile(seed: 4);
        var weights = torch.where(mask == 1, torch.tensor(1.0f), torch.tensor(10.0f)); // two distinct weights, like w_c plus a border term
        weights[0, 0] = torch.tensor(3.5f);
        var augmenter = new Augmenter(new AugmentationOptions());

        for (var seed = 0L; seed < 8; seed++)
        {
            var (_, outMask, outWeights) = augmenter.Apply(image, mask, weights, seed);

            Assert.Equal(ScalarType.Int64, outMask.dtype);
            Assert.Subset(new HashSet<long> { 0, 1 }, outMask.data<long>().ToHashSet());
            Assert.Subset(new HashSet<float> { 1.0f, 3.5f, 10.0f }, outWeights.data<float>().ToHashSet());
        }
    }

    [Fact]
    public void Apply_ElasticDeformation_MaskMovesWithTheImage()
    {
        using var scope = torch.NewDisposeScope();
        var image = SmoothImage(); // (1, 64, 64), blobs several pixels wide
        var mask = (image[0] > 0.5).to(ScalarType.Int64);
        var weights = torch.ones(Size, Size);
        var augmenter = new Augmenter(ElasticOnly with { ElasticSigmaPixels = 6 });

        for (var seed = 0L; seed < 4; seed++)
        {
            var (outImage, outMask, _) = augmenter.Apply(image, mask, weights, seed);
            var thresholded = (outImage[0] > 0.5).to(ScalarType.Int64);

            // Labels deformed with the image disagree with it only on boundary pixels, where bilinear and nearest
            // sampling differ; labels left in place disagree over whole displaced bands.
            var alignedDisagreement = (outMask != thresholded).to(ScalarType.Float32).mean().item<float>();
            var unmovedDisagreement = (mask != thresholded).to(ScalarType.Float32).mean().item<float>();
            Assert.InRange(alignedDisagreement, 0f, 0.05f); // about 0.02 here
            Assert.InRange(unmovedDisagreement, 4 * alignedDisagreement, 1f); // about 0.25 here
        }
    }

    [Fact]
    public void Apply_RotationsAndFlips_KeepMaskAndWeightsAlignedWithImage()
    {
        using var scope = torch.NewDisposeScope();
        var (image, mask, _) = RandomTile(seed: 5);
        var weights = image[0] * 2 + 1;
        var augmenter = new Augmenter(new AugmentationOptions { Elastic = false });
        var changed = 0;

        for (var seed = 0L; seed < 16; seed++)
        {
            var (outImage, outMask, outWeights) = augmenter.Apply(image, mask, weights, seed);

            Assert.True(outMask.Equals((outImage[0] > 0.5).to(ScalarType.Int64)));
            Assert.True(outWeights.Equals(outImage[0] * 2 + 1));
            changed += outImage.Equals(image) ? 0 : 1;
        }

        Assert.InRange(changed, 10, 16); // 7 of the 8 symmetries move pixels
    }

    [Fact]
    public void Apply_Rotate90Only_DrawsEveryQuarterTurn()
    {
        using var scope = torch.NewDisposeScope();
        var (image, mask, weights) = RandomTile(seed: 6);
        var augmenter = new Augmenter(AugmentationOptions.None with { Rotate90 = true });
        var turns = Enumerable.Range(0, 4).Select(k => image.rot90(k, (1, 2))).ToArray();
        var seen = new HashSet<int>();

        for (var seed = 0L; seed < 32; seed++)
        {
            var (outImage, _, _) = augmenter.Apply(image, mask, weights, seed);
            var k = Array.FindIndex(turns, turn => turn.Equals(outImage));
            Assert.NotEqual(-1, k);
            seen.Add(k);
        }

        Assert.Equal(Enumerable.Range(0, 4), seen.Order());
    }

    [Fact]
    public void Apply_FlipOnly_DrawsEveryFlip()
    {
        using var scope = torch.NewDisposeScope();
        var (image, mask, weights) = RandomTile(seed: 7);
        var augmenter = new Augmenter(AugmentationOptions.None with { Flip = true });
        Tensor[] flips = [image, image.flip(2), image.flip(1), image.flip(1, 2)];
        var seen = new HashSet<int>();

        for (var seed = 0L; seed < 32; seed++)
        {
            var (outImage, _, _) = augmenter.Apply(image, mask, weights, seed);
            var index = Array.FindIndex(flips, flip => flip.Equals(outImage));
            Assert.NotEqual(-1, index);
            seen.Add(index);
        }

        Assert.Equal(Enumerable.Range(0, 4), seen.Order());
    }

    [Fact]
    public void Apply_MultiChannelImage_DeformsEveryChannelAlike()
    {
        using var scope = torch.NewDisposeScope();
        var (gray, mask, weights) = RandomTile(seed: 8);
        var image = torch.cat([gray, gray * 2, 1 - gray]); // (3, 64, 64)
        var augmenter = new Augmenter(new AugmentationOptions());

        var (outImage, _, _) = augmenter.Apply(image, mask, weights, seed: 5);

        Assert.Equal([3L, Size, Size], outImage.shape);
        Assert.True(outImage[1].allclose(outImage[0] * 2, atol: 1e-5));
        Assert.True(outImage[2].allclose(1 - outImage[0], atol: 1e-5));
    }

    [Fact]
    public void Augmenter_InvalidOptions_ThrowsNamingTheOption()
    {
        var sigma = Assert.Throws<ArgumentException>(() => new Augmenter(new AugmentationOptions { ElasticSigmaPixels = -1 }));
        var grid = Assert.Throws<ArgumentException>(() => new Augmenter(new AugmentationOptions { ElasticGridSize = 1 }));

        Assert.Contains(nameof(AugmentationOptions.ElasticSigmaPixels), sigma.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(AugmentationOptions.ElasticGridSize), grid.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_MaskOfAnotherSize_ThrowsNamingTheMask()
    {
        using var scope = torch.NewDisposeScope();
        var (image, _, weights) = RandomTile(seed: 9);
        var augmenter = new Augmenter(new AugmentationOptions());

        var error = Assert.Throws<ArgumentException>(
            () => augmenter.Apply(image, torch.zeros([Size, Size - 1], ScalarType.Int64), weights, seed: 0));

        Assert.Equal("mask", error.ParamName);
    }

    /// <summary>A (1, 64, 64) image of uniform noise, its threshold at 0.5 as mask, and a weight map.</summary>
    [Fact]
    public void Apply_ThreeChannelTile_MovesEveryChannelAsTheGrayTileIsMoved()
    {
        using var scope = torch.NewDisposeScope();
        var (gray, mask, weights) = RandomTile(seed: 4);
        var colour = torch.cat([gray, 1 - gray, gray * 0.5], 0);   // (3, H, W): three different channels
        var augmenter = new Augmenter(new AugmentationOptions());

        var one = augmenter.Apply(gray, mask, weights, seed: 77);
        var three = augmenter.Apply(colour, mask, weights, seed: 77);

        Assert.Equal([3L, Size, Size], three.Image.shape);
        Assert.True(three.Image[0].allclose(one.Image[0], rtol: 0, atol: 1e-5));
        Assert.True(three.Image[1].allclose(1 - one.Image[0], rtol: 0, atol: 1e-5));
        Assert.True(three.Image[2].allclose(one.Image[0] * 0.5, rtol: 0, atol: 1e-5));
        Assert.True(three.Mask.Equals(one.Mask));
    }

    private static (Tensor Image, Tensor Mask, Tensor Weights) RandomTile(long seed)
    {
        var random = new SplitMix64(seed);
        var values = new float[Size * Size];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = (float)random.NextDouble();
        }

        var image = torch.tensor(values, [1, Size, Size]);
        var mask = (image[0] > 0.5).to(ScalarType.Int64);
        var weights = image[0] + 1;
        return (image, mask, weights);
    }

    /// <summary>A (1, 64, 64) image of smooth blobs, asymmetric under rotations and flips.</summary>
    private static Tensor SmoothImage()
    {
        var x = torch.arange(Size, dtype: ScalarType.Float32).view(1, Size);
        var y = torch.arange(Size, dtype: ScalarType.Float32).view(Size, 1);
        return (0.5 + 0.25 * torch.sin(x / 4 + 0.3) + 0.25 * torch.cos(y / 6)).unsqueeze(0);
    }
}
