using TorchSharp;
using UNetCluster.Data.Tiling;
using static TorchSharp.torch;

namespace UNetCluster.Data.Tests.Tiling;

public sealed class MirrorPaddingTests
{
    // 0  1  2  3
    // 4  5  6  7
    // 8  9 10 11
    private static Tensor Image3x4(ScalarType dtype = ScalarType.Float32) => torch.arange(12, dtype: dtype).reshape(3, 4);

    [Fact]
    public void Pad_SmallPads_MirrorsWithoutRepeatingTheEdge()
    {
        using var scope = torch.NewDisposeScope();

        var padded = MirrorPadding.Pad(Image3x4(), top: 1, bottom: 1, left: 2, right: 2);

        // numpy.pad(a, ((1, 1), (2, 2)), 'reflect')
        float[,] expected =
        {
            { 6, 5, 4, 5, 6, 7, 6, 5 },
            { 2, 1, 0, 1, 2, 3, 2, 1 },
            { 6, 5, 4, 5, 6, 7, 6, 5 },
            { 10, 9, 8, 9, 10, 11, 10, 9 },
            { 6, 5, 4, 5, 6, 7, 6, 5 },
        };
        AssertValues(expected, padded);
    }

    [Fact]
    public void Pad_PadsLargerThanImage_ReflectsAgainUntilFilled()
    {
        using var scope = torch.NewDisposeScope();

        // 4 rows above a 3-row image and 5 columns left of a 4-column one: more than torch's reflect pad accepts.
        var padded = MirrorPadding.Pad(Image3x4(), top: 4, bottom: 3, left: 5, right: 0);

        // Rows 0 1 2 1 | 0 1 2 | 1 0 1, columns 1 2 3 2 1 | 0 1 2 3 (period 2 (n - 1)).
        float[,] expected =
        {
            { 1, 2, 3, 2, 1, 0, 1, 2, 3 },
            { 5, 6, 7, 6, 5, 4, 5, 6, 7 },
            { 9, 10, 11, 10, 9, 8, 9, 10, 11 },
            { 5, 6, 7, 6, 5, 4, 5, 6, 7 },
            { 1, 2, 3, 2, 1, 0, 1, 2, 3 },
            { 5, 6, 7, 6, 5, 4, 5, 6, 7 },
            { 9, 10, 11, 10, 9, 8, 9, 10, 11 },
            { 5, 6, 7, 6, 5, 4, 5, 6, 7 },
            { 1, 2, 3, 2, 1, 0, 1, 2, 3 },
            { 5, 6, 7, 6, 5, 4, 5, 6, 7 },
        };
        AssertValues(expected, padded);
    }

    [Fact]
    public void Pad_ChannelFirstImage_PadsEveryChannelLikeA2DTensor()
    {
        using var scope = torch.NewDisposeScope();
        var image = torch.stack([Image3x4(), Image3x4() + 100]); // (2, 3, 4)

        var padded = MirrorPadding.Pad(image, top: 2, bottom: 5, left: 3, right: 6);

        Assert.Equal([2L, 10, 13], padded.shape);
        var expected = MirrorPadding.Pad(Image3x4(), top: 2, bottom: 5, left: 3, right: 6);
        Assert.True(padded[0].Equals(expected));
        Assert.True(padded[1].Equals(expected + 100));
    }

    [Fact]
    public void Pad_IntegerMask_KeepsDtypeAndValues()
    {
        using var scope = torch.NewDisposeScope();

        var padded = MirrorPadding.Pad(Image3x4(ScalarType.Int64), top: 1, bottom: 0, left: 0, right: 1);

        Assert.Equal(ScalarType.Int64, padded.dtype);
        Assert.Equal([4L, 5], padded.shape);
        Assert.Equal([4L, 5, 6, 7, 6, 0, 1, 2, 3, 2, 4, 5, 6, 7, 6, 8, 9, 10, 11, 10], padded.data<long>().ToArray());
    }

    [Fact]
    public void Pad_SinglePixelAxis_RepeatsThePixel()
    {
        using var scope = torch.NewDisposeScope();
        var row = torch.tensor(new float[] { 1, 2, 3 }).reshape(1, 3);

        var padded = MirrorPadding.Pad(row, top: 2, bottom: 1, left: 0, right: 0);

        AssertValues(new float[,] { { 1, 2, 3 }, { 1, 2, 3 }, { 1, 2, 3 }, { 1, 2, 3 } }, padded);
    }

    [Fact]
    public void Pad_NegativePad_Throws()
    {
        using var scope = torch.NewDisposeScope();

        Assert.Throws<ArgumentOutOfRangeException>(() => MirrorPadding.Pad(Image3x4(), top: 0, bottom: -1, left: 0, right: 0));
    }

    [Fact]
    public void Crop_WindowInsideImage_EqualsTheSlice()
    {
        using var scope = torch.NewDisposeScope();

        var window = MirrorPadding.Crop(Image3x4(), top: 1, left: 1, height: 2, width: 3);

        AssertValues(new float[,] { { 5, 6, 7 }, { 9, 10, 11 } }, window);
    }

    [Fact]
    public void Crop_Result_DoesNotShareStorageWithTheImage()
    {
        using var scope = torch.NewDisposeScope();
        var image = Image3x4();

        var window = MirrorPadding.Crop(image, top: 0, left: 0, height: 3, width: 4);
        window.fill_(-1);

        Assert.Equal(11f, image[2, 3].item<float>());
    }

    private static void AssertValues(float[,] expected, Tensor actual)
    {
        Assert.Equal([expected.GetLongLength(0), expected.GetLongLength(1)], actual.shape);
        Assert.Equal(expected.Cast<float>().ToArray(), actual.data<float>().ToArray());
    }
}
