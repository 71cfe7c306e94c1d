using BitMiracle.LibTiff.Classic;
using StbImageWriteSharp;
using UNetCluster.Data.Imaging;
using UNetCluster.Data.Tests.TestSupport;

namespace UNetCluster.Data.Tests.Imaging;

/// <summary>Colour and alpha files decode to the right channel count, every sample in its channel plane.</summary>
public sealed class ColourImageReaderTests : IDisposable
{
    private const int Width = 7;
    private const int Height = 5;

    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData(8, 2, 3, 3)]    // RGB
    [InlineData(16, 2, 3, 3)]
    [InlineData(8, 6, 4, 3)]    // RGBA: alpha dropped
    [InlineData(16, 6, 4, 3)]
    [InlineData(8, 4, 2, 1)]    // gray + alpha: alpha dropped
    [InlineData(16, 4, 2, 1)]
    public void Read_ColourOrAlphaPng_ReturnsColourChannelsPlanarWithoutAlpha(int bitDepth, int colorType, int samples, int channels)
    {
        var interleaved = TestImages.Pattern(Width * samples, Height, bitDepth);
        var path = _temp.File("colour.png");
        File.WriteAllBytes(path, PngBytes.Interleaved(interleaved, Width, Height, bitDepth, colorType, samples));

        var image = ImageReader.Read(path);

        Assert.Equal((Width, Height, bitDepth, channels), (image.Width, image.Height, image.BitDepth, image.Channels));
        Assert.Equal(Planar(interleaved, samples, channels), image.Values);
    }

    [Fact]
    public void Read_RgbPngFromStbWriter_RedPixelIsInRedPlaneOnly()
    {
        // One red pixel, then one blue, on a 2x1 image: a decoder that kept pixels interleaved would mix them up.
        var path = _temp.File("red-blue.png");
        TestImages.WritePng(path, [255, 0, 0, 0, 0, 255], 2, 1, ColorComponents.RedGreenBlue);

        var image = ImageReader.Read(path);

        Assert.Equal(3, image.Channels);
        Assert.Equal([255, 0, 0, 0, 0, 255], image.Values.Select(v => (int)v));
    }

    [Fact]
    public void Read_PalettePng_ReturnsPaletteColoursAsRgb()
    {
        byte[] palette = [10, 20, 30, 200, 100, 0];
        var path = _temp.File("palette.png");
        File.WriteAllBytes(path, PngBytes.Interleaved([0, 1, 1, 0], 2, 2, 8, colorType: 3, samples: 1, palette));

        var image = ImageReader.Read(path);

        Assert.Equal((3, 8), (image.Channels, image.BitDepth));
        Assert.Equal([10, 200, 200, 10, 20, 100, 100, 20, 30, 0, 0, 30], image.Values.Select(v => (int)v));
    }

    [Fact]
    public void Read_PalettePngOfGrays_ReturnsOneChannelOfTheGrayValues()
    {
        byte[] palette = [0, 0, 0, 77, 77, 77, 255, 255, 255];
        var path = _temp.File("gray-palette.png");
        File.WriteAllBytes(path, PngBytes.Interleaved([2, 1, 0, 1], 2, 2, 8, colorType: 3, samples: 1, palette));

        var image = ImageReader.Read(path);

        Assert.Equal(1, image.Channels);
        Assert.Equal([255, 77, 0, 77], image.Values.Select(v => (int)v));
    }

    [Theory]
    [InlineData(8, false)]
    [InlineData(16, false)]
    [InlineData(8, true)]
    [InlineData(16, true)]
    public void Read_RgbTiff_ReturnsThreeChannelsPlanar(int bitDepth, bool tiled)
    {
        var interleaved = TestImages.Pattern(Width * 3, Height, bitDepth);
        var path = _temp.File("colour.tif");
        TestImages.WriteTiff(path, Width, Height, bitDepth, [interleaved], tiled, samplesPerPixel: 3, photometric: Photometric.RGB);

        var image = ImageReader.Read(path);

        Assert.Equal((3, bitDepth), (image.Channels, image.BitDepth));
        Assert.Equal(Planar(interleaved, 3, 3), image.Values);
    }

    [Fact]
    public void Read_RgbaTiffWithAlphaTag_DropsAlpha()
    {
        var interleaved = TestImages.Pattern(Width * 4, Height, 8);
        var path = _temp.File("rgba.tif");
        WriteTiff(path, interleaved, 4, Photometric.RGB, PlanarConfig.CONTIG, alpha: true);

        var image = ImageReader.Read(path);

        Assert.Equal(3, image.Channels);
        Assert.Equal(Planar(interleaved, 4, 3), image.Values);
    }

    [Fact]
    public void Read_RgbTiffWithSeparatePlanes_ReturnsEachPlane()
    {
        var planar = TestImages.Pattern(Width * 3, Height, 16);
        var path = _temp.File("planes.tif");
        WriteTiff(path, planar, 3, Photometric.RGB, PlanarConfig.SEPARATE, alpha: false, bitDepth: 16);

        var image = ImageReader.Read(path);

        Assert.Equal(3, image.Channels);
        Assert.Equal(planar, image.Values);
    }

    [Fact]
    public void Read_FourChannelGrayTiff_ReturnsFourChannels()
    {
        var interleaved = TestImages.Pattern(Width * 4, Height, 16);
        var path = _temp.File("fluorescence.tif");
        TestImages.WriteTiff(path, Width, Height, 16, [interleaved], samplesPerPixel: 4);

        var image = ImageReader.Read(path);

        Assert.Equal(4, image.Channels);
        Assert.Equal(Planar(interleaved, 4, 4), image.Values);
    }

    [Fact]
    public void Read_FiveChannelTiff_ThrowsNamingFileAndChannelCount()
    {
        var path = _temp.File("five.tif");
        TestImages.WriteTiff(path, Width, Height, 8, [new ushort[Width * Height * 5]], samplesPerPixel: 5);

        var error = Assert.Throws<InvalidImageException>(() => ImageReader.Read(path));

        Assert.Contains("five.tif: has unsupported channels: its image has 5 channels, more than the 4", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Normalised_RgbImage_NormalisesEachChannelOnItsOwn()
    {
        // Channel 0 spans 0..255, channel 1 only 100..110: each comes out with zero mean and unit std.
        var image = new GrayImage(2, 1, [0, 255, 100, 110], 8, "rgb", Channels: 2);

        var normalised = image.Normalised();

        Assert.Equal([-1f, 1f, -1f, 1f], normalised.Select(v => MathF.Round(v, 4)));
    }

    private static ushort[] Planar(ushort[] interleaved, int samples, int channels)
    {
        var pixels = interleaved.Length / samples;
        var planar = new ushort[pixels * channels];
        for (var c = 0; c < channels; c++)
        {
            for (var i = 0; i < pixels; i++)
            {
                planar[(c * pixels) + i] = interleaved[(i * samples) + c];
            }
        }

        return planar;
    }

    /// <summary>A one-strip-per-row TIFF with an ExtraSamples alpha tag or separate planes, which TestImages does not write.</summary>
    private static void WriteTiff(
        string path, ushort[] samples, int samplesPerPixel, Photometric photometric, PlanarConfig planar, bool alpha, int bitDepth = 8)
    {
        using var tiff = Tiff.Open(path, "w") ?? throw new IOException($"LibTiff could not create {path}");
        tiff.SetField(TiffTag.IMAGEWIDTH, Width);
        tiff.SetField(TiffTag.IMAGELENGTH, Height);
        tiff.SetField(TiffTag.BITSPERSAMPLE, bitDepth);
        tiff.SetField(TiffTag.SAMPLESPERPIXEL, samplesPerPixel);
        tiff.SetField(TiffTag.PHOTOMETRIC, photometric);
        tiff.SetField(TiffTag.PLANARCONFIG, planar);
        tiff.SetField(TiffTag.ROWSPERSTRIP, 1);
        if (alpha)
        {
            tiff.SetField(TiffTag.EXTRASAMPLES, 1, new short[] { (short)ExtraSample.UNASSALPHA });
        }

        var bytesPerSample = bitDepth / 8;
        var perRow = planar == PlanarConfig.SEPARATE ? Width : Width * samplesPerPixel;
        var planes = planar == PlanarConfig.SEPARATE ? samplesPerPixel : 1;
        var row = new byte[perRow * bytesPerSample];
        for (short plane = 0; plane < planes; plane++)
        {
            for (var y = 0; y < Height; y++)
            {
                var start = (plane * Width * Height) + (y * perRow);
                for (var i = 0; i < perRow; i++)
                {
                    var value = samples[start + i];
                    if (bytesPerSample == 2)
                    {
                        BitConverter.TryWriteBytes(row.AsSpan(i * 2), value);
                    }
                    else
                    {
                        row[i] = (byte)value;
                    }
                }

                tiff.WriteScanline(row, y, plane);
            }
        }

        tiff.WriteDirectory();
    }
}
