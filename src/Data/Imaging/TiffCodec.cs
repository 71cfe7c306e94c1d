using System.Globalization;
using System.Runtime.InteropServices;
using BitMiracle.LibTiff.Classic;

namespace UNetCluster.Data.Imaging;

/// <summary>
/// Reads TIFF pages (strips or tiles, interleaved or separate planes, any compression LibTiff.NET decodes) through
/// BitMiracle.LibTiff.NET: grayscale with up to <see cref="GrayImage.MaxChannels"/> samples per pixel, and RGB, alpha
/// dropped.
/// </summary>
internal static class TiffCodec
{
    public static bool HasSignature(ReadOnlySpan<byte> bytes) =>
        bytes.Length >= 4
        && ((bytes[0] == 'I' && bytes[1] == 'I' && bytes[2] is 42 or 43 && bytes[3] == 0)
            || (bytes[0] == 'M' && bytes[1] == 'M' && bytes[2] == 0 && bytes[3] is 42 or 43));

    /// <summary>
    /// Reads every page, or refuses a stack of more than one page when <paramref name="singlePage"/> is set. Every
    /// page's declared size, and their total, is checked against <paramref name="limits"/> before any is decoded.
    /// </summary>
    public static IReadOnlyList<GrayImage> Read(string path, byte[] bytes, bool singlePage, ImageLimits limits)
    {
        using var messages = LibTiffMessages.Capture();
        try
        {
            return ReadAll(path, bytes, singlePage, limits, messages);
        }
        catch (Exception e) when (e is not (InvalidImageException or OutOfMemoryException))
        {
            // LibTiff.NET mostly reports damage through its error handler, but some damaged directories make it throw
            // (an OverflowException from a corrupt tag count, for one).
            throw new InvalidImageException(path, $"is truncated or corrupt: LibTiff failed with \"{e.Message}\"{messages.Detail}", e);
        }
    }

    private static List<GrayImage> ReadAll(string path, byte[] bytes, bool singlePage, ImageLimits limits, LibTiffMessages messages)
    {
        using var stream = new MemoryStream(bytes, writable: false);
        using var tiff = Tiff.ClientOpen(path, "r", stream, new TiffStream());
        if (tiff is null)
        {
            throw new InvalidImageException(path, $"is truncated or corrupt: it could not be opened as TIFF{messages.Detail}");
        }

        int pageCount = tiff.NumberOfDirectories();
        if (singlePage && pageCount > 1)
        {
            throw new InvalidImageException(
                path, $"is a stack of {pageCount} pages where one image was expected: read it with ImageReader.ReadPages");
        }

        if (pageCount > short.MaxValue)
        {
            throw new InvalidImageException(path, $"has {pageCount} pages; at most {short.MaxValue} pages are read from one TIFF");
        }

        long pixels = 0;
        for (short page = 0; page < pageCount; page++)
        {
            GoToPage(tiff, path, page, messages);
            pixels += CheckDeclaredSize(tiff, path, Where(page, pageCount), limits);
        }

        limits.CheckFile(path, pageCount, pixels);
        var pages = new List<GrayImage>(pageCount);
        for (short page = 0; page < pageCount; page++)
        {
            GoToPage(tiff, path, page, messages);
            pages.Add(ReadPage(tiff, path, page, pageCount, messages));
        }

        return pages;
    }

    private static void GoToPage(Tiff tiff, string path, short page, LibTiffMessages messages)
    {
        if (!tiff.SetDirectory(page))
        {
            throw new InvalidImageException(path, $"is truncated or corrupt: page {page} could not be read{messages.Detail}");
        }
    }

    private static long MaxTileSide(int imageSide) => Math.Max(1024, ((imageSide + 15L) / 16) * 16);

    private static string Where(int page, int pageCount) => pageCount > 1 ? $"page {page}" : "its image";

    /// <summary>
    /// Checks the current page's declared width, height and tile size, read from its directory without decoding
    /// anything, and returns its pixel count.
    /// </summary>
    private static long CheckDeclaredSize(Tiff tiff, string path, string where, ImageLimits limits)
    {
        var width = GetInt(tiff, TiffTag.IMAGEWIDTH);
        var height = GetInt(tiff, TiffTag.IMAGELENGTH);
        if (width <= 0 || height <= 0)
        {
            throw new InvalidImageException(path, $"is corrupt: {where} has no width or height");
        }

        limits.CheckImage(path, where, width, height);
        if ((long)width * height > Array.MaxLength)
        {
            throw new InvalidImageException(path, $"is too large or corrupt: {where} says {width}x{height} pixels");
        }

        if (tiff.IsTiled())
        {
            // Each tile is decoded into a buffer of its declared size, so a tile may not be much larger than its
            // image: at most the image's side rounded up to TIFF's tile step of 16, or 1024 (writers use a fixed
            // tile size even for small images).
            var tileWidth = GetInt(tiff, TiffTag.TILEWIDTH);
            var tileHeight = GetInt(tiff, TiffTag.TILELENGTH);
            if (tileWidth <= 0 || tileHeight <= 0 || tileWidth > MaxTileSide(width) || tileHeight > MaxTileSide(height))
            {
                throw new InvalidImageException(
                    path, $"is corrupt: {where} has tiles of {tileWidth}x{tileHeight} pixels for {width}x{height} pixels " +
                          $"(a tile side may be at most {MaxTileSide(width)}x{MaxTileSide(height)} here)");
            }
        }

        return (long)width * height;
    }

    private static GrayImage ReadPage(Tiff tiff, string path, int page, int pageCount, LibTiffMessages messages)
    {
        var where = Where(page, pageCount);
        var width = GetInt(tiff, TiffTag.IMAGEWIDTH);
        var height = GetInt(tiff, TiffTag.IMAGELENGTH);
        var bitDepth = GetInt(tiff, TiffTag.BITSPERSAMPLE);
        var samplesPerPixel = GetInt(tiff, TiffTag.SAMPLESPERPIXEL, 1);
        var sampleFormat = (SampleFormat)GetInt(tiff, TiffTag.SAMPLEFORMAT);
        var photometric = (Photometric)GetInt(tiff, TiffTag.PHOTOMETRIC, (int)Photometric.MINISBLACK);
        var planar = (PlanarConfig)GetInt(tiff, TiffTag.PLANARCONFIG, (int)PlanarConfig.CONTIG);

        var kept = KeptSamples(tiff, photometric, samplesPerPixel);
        if (kept is null)
        {
            throw new InvalidImageException(
                path, $"has unsupported channels: {where} has {samplesPerPixel} sample(s) per pixel with photometric interpretation {photometric}");
        }

        if (kept.Length > GrayImage.MaxChannels)
        {
            throw new InvalidImageException(
                path, $"has unsupported channels: {where} has {kept.Length} channels, more than the {GrayImage.MaxChannels} an image may have");
        }

        if (bitDepth is not (8 or 16) || sampleFormat != SampleFormat.UINT)
        {
            var format = sampleFormat == SampleFormat.UINT ? "unsigned integer" : sampleFormat.ToString();
            throw new InvalidImageException(path, $"has unsupported bit depth: {where} has {bitDepth}-bit {format} samples");
        }

        if ((long)width * height * kept.Length > Array.MaxLength)
        {
            throw new InvalidImageException(path, $"is too large: {where} has {width}x{height} pixels of {kept.Length} channels, more than one array holds");
        }

        var layout = new SampleLayout(path, where, width, height, bitDepth / 8, planar == PlanarConfig.SEPARATE ? 1 : samplesPerPixel, kept);
        var values = new ushort[width * height * kept.Length];
        if (planar == PlanarConfig.SEPARATE)
        {
            // One plane per sample: read only the planes kept, each as a one-sample image.
            for (var c = 0; c < kept.Length; c++)
            {
                var plane = layout with { SamplesPerPixel = 1, Kept = [0] };
                var target = values.AsSpan(c * width * height, width * height);
                ReadPlane(tiff, plane, (short)kept[c], target, messages);
            }
        }
        else
        {
            ReadPlane(tiff, layout, 0, values, messages);
        }

        if (photometric == Photometric.MINISWHITE)
        {
            // 0 is white in these files; flip so that larger values are brighter, as for every other input.
            var max = (ushort)((1 << bitDepth) - 1);
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = (ushort)(max - values[i]);
            }
        }

        return new GrayImage(width, height, values, bitDepth, path, page, kept.Length);
    }

    /// <summary>
    /// The indexes of the samples read as channels, or null for a photometric interpretation not read. Grayscale keeps
    /// every sample but alpha (gray + alpha is one channel; unspecified extra samples, such as further fluorescence
    /// channels, stay); RGB keeps red, green and blue, dropping alpha and any extra sample.
    /// </summary>
    private static int[]? KeptSamples(Tiff tiff, Photometric photometric, int samplesPerPixel)
    {
        if (samplesPerPixel < 1)
        {
            return null;
        }

        switch (photometric)
        {
            case Photometric.RGB when samplesPerPixel >= 3:
                return [0, 1, 2];
            case Photometric.MINISBLACK or Photometric.MINISWHITE:
                var extras = ExtraSampleTypes(tiff);
                var colourSamples = samplesPerPixel - extras.Length;
                return Enumerable.Range(0, samplesPerPixel)
                    .Where(i => i < colourSamples || extras[i - colourSamples] is not (ExtraSample.ASSOCALPHA or ExtraSample.UNASSALPHA))
                    .ToArray() is { Length: > 0 } kept ? kept : null;
            default:
                return null;
        }
    }

    /// <summary>What each extra sample (those after the colour samples) holds, from the ExtraSamples tag.</summary>
    private static ExtraSample[] ExtraSampleTypes(Tiff tiff)
    {
        var field = tiff.GetField(TiffTag.EXTRASAMPLES);
        if (field is not { Length: >= 2 } || field[0].ToInt() <= 0)
        {
            return [];
        }

        var types = field[1].ToShortArray() ?? [];
        return types.Take(field[0].ToInt()).Select(t => (ExtraSample)t).ToArray();
    }

    /// <summary>
    /// How a page's decoded rows hold their samples: <see cref="SamplesPerPixel"/> interleaved samples of
    /// <see cref="BytesPerSample"/> bytes per pixel (1 when planes are separate), of which <see cref="Kept"/> are copied,
    /// each into its own channel plane.
    /// </summary>
    private sealed record SampleLayout(string Path, string Where, int Width, int Height, int BytesPerSample, int SamplesPerPixel, int[] Kept)
    {
        public int PixelBytes => BytesPerSample * SamplesPerPixel;
    }

    /// <summary>Reads the samples of one plane (<paramref name="plane"/> 0 for interleaved pages) into <paramref name="values"/>.</summary>
    private static void ReadPlane(Tiff tiff, SampleLayout layout, short plane, Span<ushort> values, LibTiffMessages messages)
    {
        if (tiff.IsTiled())
        {
            ReadTiles(tiff, layout, plane, values, messages);
        }
        else
        {
            ReadStrips(tiff, layout, plane, values, messages);
        }
    }

    private static void ReadStrips(Tiff tiff, SampleLayout layout, short plane, Span<ushort> values, LibTiffMessages messages)
    {
        var (width, height) = (layout.Width, layout.Height);
        var row = new byte[Math.Max(tiff.ScanlineSize(), width * layout.PixelBytes)];
        for (var y = 0; y < height; y++)
        {
            if (!tiff.ReadScanline(row, y, plane))
            {
                throw new InvalidImageException(
                    layout.Path, $"is truncated or corrupt: row {y} of {height} of {layout.Where} could not be read{messages.Detail}");
            }

            CopySamples(layout, row.AsSpan(0, width * layout.PixelBytes), values, y * width);
        }
    }

    private static void ReadTiles(Tiff tiff, SampleLayout layout, short plane, Span<ushort> values, LibTiffMessages messages)
    {
        var (width, height) = (layout.Width, layout.Height);
        var tileWidth = GetInt(tiff, TiffTag.TILEWIDTH);
        var tileHeight = GetInt(tiff, TiffTag.TILELENGTH);
        var tile = new byte[tiff.TileSize()];
        for (var top = 0; top < height; top += tileHeight)
        {
            for (var left = 0; left < width; left += tileWidth)
            {
                if (tiff.ReadTile(tile, 0, left, top, 0, plane) < 0)
                {
                    throw new InvalidImageException(
                        layout.Path, $"is truncated or corrupt: the tile at x={left}, y={top} of {layout.Where} could not be read{messages.Detail}");
                }

                var copyWidth = Math.Min(tileWidth, width - left);
                for (var dy = 0; dy < tileHeight && top + dy < height; dy++)
                {
                    var source = tile.AsSpan(dy * tileWidth * layout.PixelBytes, copyWidth * layout.PixelBytes);
                    CopySamples(layout, source, values, ((top + dy) * width) + left);
                }
            }
        }
    }

    /// <summary>
    /// Copies the kept samples of a run of pixels, starting at pixel <paramref name="start"/> of the page, into their
    /// channel planes of <paramref name="values"/>. LibTiff hands decoded 16-bit samples over in the machine's byte
    /// order, whatever the file's.
    /// </summary>
    private static void CopySamples(SampleLayout layout, ReadOnlySpan<byte> source, Span<ushort> values, int start)
    {
        var pixels = source.Length / layout.PixelBytes;
        var planeLength = layout.Width * layout.Height;
        if (layout.SamplesPerPixel == 1 && layout.BytesPerSample == 2)
        {
            MemoryMarshal.Cast<byte, ushort>(source).CopyTo(values.Slice(start, pixels));
            return;
        }

        for (var c = 0; c < layout.Kept.Length; c++)
        {
            var target = values.Slice((c * planeLength) + start, pixels);
            var offset = layout.Kept[c] * layout.BytesPerSample;
            for (var i = 0; i < pixels; i++)
            {
                var at = (i * layout.PixelBytes) + offset;
                target[i] = layout.BytesPerSample == 1 ? source[at] : MemoryMarshal.Read<ushort>(source[at..]);
            }
        }
    }

    private static int GetInt(Tiff tiff, TiffTag tag, int fallback = 0)
    {
        var field = tiff.GetFieldDefaulted(tag);
        return field is { Length: > 0 } ? field[0].ToInt() : fallback;
    }

    /// <summary>
    /// LibTiff.NET reports problems to one process-wide handler that by default writes to the console. This one,
    /// installed once, collects the messages of reads made on the current thread (to put them into the exception)
    /// and passes any other thread's or caller's messages on to the handler that was there before.
    /// </summary>
    private sealed class LibTiffMessages : IDisposable
    {
        private static readonly Lazy<Handler> Installed = new(() =>
        {
            var handler = new Handler();
            handler.Previous = Tiff.SetErrorHandler(handler);
            return handler;
        });

        [ThreadStatic]
        private static LibTiffMessages? _current;

        private readonly List<string> _errors = [];

        private LibTiffMessages()
        {
        }

        public string Detail => _errors.Count == 0
            ? ""
            : " (LibTiff: " + string.Join("; ", _errors.Distinct().Take(3)) + ")";

        public static LibTiffMessages Capture()
        {
            _ = Installed.Value;
            var messages = new LibTiffMessages();
            _current = messages;
            return messages;
        }

        public void Dispose() => _current = null;

        private sealed class Handler : TiffErrorHandler
        {
            public TiffErrorHandler? Previous { get; set; }

            public override void ErrorHandler(Tiff tif, string method, string format, params object[] args)
            {
                if (_current is { } messages)
                {
                    messages._errors.Add(args.Length == 0 ? format : string.Format(CultureInfo.InvariantCulture, format, args));
                }
                else
                {
                    Previous?.ErrorHandler(tif, method, format, args);
                }
            }

            public override void WarningHandler(Tiff tif, string method, string format, params object[] args)
            {
                // Our reads ignore warnings (unknown tags and the like); anyone else's go where they went before.
                if (_current is null)
                {
                    Previous?.WarningHandler(tif, method, format, args);
                }
            }
        }
    }
}
