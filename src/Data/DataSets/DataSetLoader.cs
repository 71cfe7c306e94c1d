using System.Globalization;
using UNetCluster.Data.Imaging;
using UNetCluster.Data.Labels;

namespace UNetCluster.Data.DataSets;

/// <summary>
/// Loads images and masks from folders, checking every file before returning anything. Only files with one of
/// <see cref="ImageReader.SupportedExtensions"/> are looked at; other files (README, notes) and hidden files (names
/// starting with '.', e.g. macOS "._slice.png") are ignored. Nothing is ever written, moved or deleted.
/// </summary>
public static class DataSetLoader
{
    private static string AcceptedExtensions =>
        string.Join(", ", ImageReader.SupportedExtensions.Order(StringComparer.Ordinal));

    /// <summary>
    /// Pairs every image in <paramref name="imagesDirectory"/> with the mask of the same file name stem in
    /// <paramref name="masksDirectory"/> (<c>slice-03.png</c> or <c>slice-03.tif</c> with <c>slice-03.png</c>). A TIFF
    /// stack pairs with a mask stack of as many pages, one section per page with id <c>stem#page</c>. Masks must be
    /// binary: only 0 and the largest value (255 or 65535), or only 0 and 1; values above 0 become foreground (1). At
    /// least one mask must hold both classes (see <see cref="DescribeMissingClass"/>).
    /// </summary>
    /// <param name="limits">The largest image read; <see cref="ImageLimits.Default"/> when null.</param>
    /// <param name="maskKind">What the masks hold (<see cref="Classify"/>); one kind for the whole set.</param>
    /// <param name="classes">For class masks, the class count (<c>--classes</c>): an index at or above it is refused;
    /// null to take the largest index + 1 (at least 2).</param>
    /// <exception cref="DataSetValidationException">
    /// Listing every problem found, each naming its file or folder: missing or empty folder, image without mask, mask
    /// without image, two files with one stem, unreadable, truncated, corrupt or over-large file, unsupported bit depth
    /// or channels, page count or size that differs between mask and image, mask that is not binary, masks that are
    /// all one class, masks of different kinds, a class index out of range.
    /// </exception>
    public static LabelledDataSet LoadLabelled(string imagesDirectory, string masksDirectory, ImageLimits? limits = null, MaskKind maskKind = MaskKind.Auto, int? classes = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(imagesDirectory);
        ArgumentException.ThrowIfNullOrEmpty(masksDirectory);
        var problems = new List<string>();
        if (string.Equals(Path.GetFullPath(imagesDirectory).TrimEnd(Path.DirectorySeparatorChar),
                Path.GetFullPath(masksDirectory).TrimEnd(Path.DirectorySeparatorChar), StringComparison.Ordinal))
        {
            problems.Add($"{imagesDirectory}: is given both as the images folder and as the masks folder; " +
                         "masks live in their own folder, with the same file names as their images");
            throw Invalid(imagesDirectory, masksDirectory, problems);
        }

        var imageFiles = ListImageFiles(imagesDirectory, "images", problems);
        var table = maskKind == MaskKind.Classes ? ClassTable.Read(masksDirectory, problems) : null;
        var maskFiles = ListImageFiles(masksDirectory, "masks", problems);
        var imagesByStem = GroupByStem(imageFiles);
        var masksByStem = GroupByStem(maskFiles);

        var sections = new List<LabelledSection>();
        var kinds = new List<(MaskKind Kind, string File)>();
        var stems = imagesByStem.Keys.Union(masksByStem.Keys).Order(StringComparer.Ordinal);
        foreach (var stem in stems)
        {
            var images = imagesByStem.GetValueOrDefault(stem) ?? [];
            var masks = masksByStem.GetValueOrDefault(stem) ?? [];
            var imagePages = images.Select(f => TryRead(f, problems, limits)).ToList();
            var maskPages = masks.Select(f => TryRead(f, problems, limits)).ToList();
            if (!CheckPairing(stem, images, masks, imagesDirectory, masksDirectory, problems)
                || imagePages[0] is not { } imageStack || maskPages[0] is not { } maskStack)
            {
                continue;
            }

            var pairProblems = new List<string>();
            var pairSections = Pair(stem, images[0], imageStack, masks[0], maskStack, maskKind, classes, table, pairProblems);
            problems.AddRange(pairProblems);
            if (pairProblems.Count == 0)
            {
                sections.AddRange(pairSections);
                kinds.AddRange(pairSections.Select(s => (s.Kind, masks[0])).Distinct());
            }
        }

        if (problems.Count == 0 && DescribeMixedKinds(kinds, masksDirectory) is { } mixed)
        {
            problems.Add(mixed);
        }

        // Judged on the whole set, so only once every file is otherwise fine.
        if (problems.Count == 0)
        {
            problems.AddRange(DescribeMixedChannels(sections.Select(s => s.Image)));
        }

        if (problems.Count == 0 && DescribeMissingClass(sections, masksDirectory) is { } missingClass)
        {
            problems.Add(missingClass);
        }

        if (problems.Count > 0)
        {
            throw Invalid(imagesDirectory, masksDirectory, problems);
        }

        var kind = kinds.Count > 0 ? kinds[0].Kind : maskKind == MaskKind.Auto ? MaskKind.Binary : maskKind;
        var largest = Math.Max(table?.Classes.Max(c => c.Index) ?? 0, sections.Select(s => s.Mask.Length == 0 ? 0 : (int)s.Mask.Max()).DefaultIfEmpty(0).Max());
        var count = kind == MaskKind.Classes ? classes ?? Math.Max(2, largest + 1) : 2;
        return new LabelledDataSet(sections)
        {
            Kind = kind,
            Classes = count,
            Table = kind == MaskKind.Classes ? table : null,
        };
    }

    /// <summary>
    /// Null when every mask holds the same kind; otherwise a problem naming <paramref name="masksDirectory"/>, the
    /// kinds found and a file of each. A set is trained as one kind: a binary mask among object-id masks would be
    /// read as one object, which is rarely what its author meant.
    /// </summary>
    private static string? DescribeMixedKinds(List<(MaskKind Kind, string File)> kinds, string masksDirectory)
    {
        var byKind = kinds.GroupBy(k => k.Kind).ToList();
        if (byKind.Count < 2)
        {
            return null;
        }

        var found = string.Join("; ", byKind.Select(g =>
            $"{g.Count()} {Describe(g.Key)} ({string.Join(", ", g.Take(3).Select(k => Path.GetFileName(k.File)))}{(g.Count() > 3 ? ", …" : "")})"));
        return $"{masksDirectory}: the masks mix kinds: {found}; a data set holds one kind of mask: pass --mask-kind instances " +
               "to read them all as object ids (a binary mask then is one object), or keep the kinds in separate data sets";
    }

    private static string Describe(MaskKind kind) => kind switch
    {
        MaskKind.Instances => "hold object ids",
        MaskKind.Classes => "hold class indices",
        _ => "are binary",
    };

    /// <summary>
    /// One labelled item: an image file (one section, or one per page of a TIFF stack) and its mask file, checked by
    /// the same rules as <see cref="LoadLabelled"/>; sections are named after <paramref name="stem"/>.
    /// </summary>
    /// <param name="limits">The largest image read; <see cref="ImageLimits.Default"/> when null.</param>
    /// <exception cref="DataSetValidationException">Listing every problem of the pair, each naming its file.</exception>
    /// <param name="classes">For class masks, the class count: an index at or above it is refused.</param>
    /// <param name="table">For colour class masks, the colours' classes (the data set's <c>classes.json</c>).</param>
    public static IReadOnlyList<LabelledSection> LoadPair(
        string stem, string imageFile, string maskFile, ImageLimits? limits = null, MaskKind maskKind = MaskKind.Auto, int? classes = null, ClassTable? table = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(stem);
        ArgumentException.ThrowIfNullOrEmpty(imageFile);
        ArgumentException.ThrowIfNullOrEmpty(maskFile);
        var problems = new List<string>();
        var imagePages = TryRead(imageFile, problems, limits);
        var maskPages = TryRead(maskFile, problems, limits);
        var sections = imagePages is null || maskPages is null ? [] : Pair(stem, imageFile, imagePages, maskFile, maskPages, maskKind, classes, table, problems);
        if (problems.Count > 0)
        {
            throw new DataSetValidationException($"The labelled item '{stem}' ('{imageFile}', '{maskFile}') is not valid", problems);
        }

        return sections;
    }

    /// <summary>
    /// Reads the images to predict on: one file (every page of a TIFF stack) or every image file of a folder, in
    /// file-name order (ordinal). Images may have any size up to <paramref name="limits"/>.
    /// </summary>
    /// <param name="limits">The largest image read; <see cref="ImageLimits.Default"/> when null.</param>
    /// <exception cref="DataSetValidationException">Listing every file or folder that cannot be used, and why.</exception>
    public static IReadOnlyList<GrayImage> LoadImages(string fileOrDirectory, ImageLimits? limits = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(fileOrDirectory);
        var problems = new List<string>();
        IReadOnlyList<string> files;
        if (File.Exists(fileOrDirectory))
        {
            files = [fileOrDirectory];
        }
        else if (Directory.Exists(fileOrDirectory))
        {
            files = ListImageFiles(fileOrDirectory, "images", problems);
        }
        else
        {
            problems.Add($"{fileOrDirectory}: does not exist; expected an image file or a folder of images " +
                         $"({AcceptedExtensions})");
            files = [];
        }

        var pages = files.Select(f => TryRead(f, problems, limits)).ToList();
        foreach (var image in pages.Where(p => p is not null).SelectMany(p => p!))
        {
            if (image.DescribeConstant() is { } constant)
            {
                problems.Add($"{Where(image)}: {constant}");
            }
        }

        if (problems.Count > 0)
        {
            throw new DataSetValidationException($"The images in '{fileOrDirectory}' cannot be used", problems);
        }

        return pages.SelectMany(p => p!).ToList();
    }

    /// <summary>
    /// One problem for each image whose channel count differs from the first image's, naming both files: a network
    /// takes one number of input channels, so a set must not mix gray and colour images.
    /// </summary>
    public static IEnumerable<string> DescribeMixedChannels(IEnumerable<GrayImage> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        GrayImage? first = null;
        foreach (var image in images)
        {
            first ??= image;
            if (image.Channels != first.Channels)
            {
                yield return $"{Where(image)}: image has {Channels(image.Channels)} but {Where(first)} has {Channels(first.Channels)}; " +
                             "every image of a data set must have the same number of channels (convert them all to gray or all to RGB)";
            }
        }
    }

    /// <summary>"1 channel", "3 channels".</summary>
    public static string Channels(int count) => count == 1 ? "1 channel" : $"{count} channels";

    /// <summary>The file of an image, with its page when it is one of a stack's later pages.</summary>
    private static string Where(GrayImage image) => image.Page > 0 ? $"{image.Source} (page {image.Page})" : image.Source;

    private static DataSetValidationException Invalid(string imagesDirectory, string masksDirectory, List<string> problems) =>
        new($"The labelled data set in '{imagesDirectory}' (images) and '{masksDirectory}' (masks) is not valid", problems);

    /// <summary>
    /// The image files of a folder (supported extensions, no dot-files, ordinal order); a missing folder or one with
    /// no images adds a problem naming it and <paramref name="role"/> ("images", "masks", ...).
    /// </summary>
    public static List<string> ListImageFiles(string directory, string role, List<string> problems)
    {
        ArgumentNullException.ThrowIfNull(problems);
        if (!Directory.Exists(directory))
        {
            problems.Add($"{directory}: the {role} folder does not exist");
            return [];
        }

        var files = Directory.EnumerateFiles(directory)
            .Where(f => !Path.GetFileName(f).StartsWith('.') && ImageReader.IsSupported(f))
            .Order(StringComparer.Ordinal)
            .ToList();
        if (files.Count == 0)
        {
            problems.Add($"{directory}: the {role} folder has no image files; accepted extensions: {AcceptedExtensions} " +
                         "(other files, such as a README, are ignored)");
        }

        return files;
    }

    private static Dictionary<string, List<string>> GroupByStem(List<string> files) =>
        files.GroupBy(f => Path.GetFileNameWithoutExtension(f), StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);

    private static IReadOnlyList<GrayImage>? TryRead(string path, List<string> problems, ImageLimits? limits)
    {
        try
        {
            return ImageReader.ReadPages(path, limits);
        }
        catch (InvalidImageException e)
        {
            problems.Add(e.Message);
            return null;
        }
    }

    /// <summary>Whether the stem has exactly one image and one mask; adds a problem naming the files otherwise.</summary>
    private static bool CheckPairing(
        string stem, List<string> images, List<string> masks, string imagesDirectory, string masksDirectory,
        List<string> problems)
    {
        var ok = true;
        foreach (var (files, role, folder) in new[] { (images, "images", imagesDirectory), (masks, "masks", masksDirectory) })
        {
            if (files.Count > 1)
            {
                problems.Add($"{folder}: {files.Count} {role} share the name '{stem}' " +
                             $"({string.Join(", ", files.Select(Path.GetFileName))}); keep one, so that each image pairs with one mask");
                ok = false;
            }
        }

        if (images.Count >= 1 && masks.Count == 0)
        {
            problems.Add($"{images[0]}: image has no mask; expected a file named '{stem}' with extension " +
                         $"{AcceptedExtensions} in the masks folder {masksDirectory}");
            ok = false;
        }

        if (masks.Count >= 1 && images.Count == 0)
        {
            problems.Add($"{masks[0]}: mask has no image; expected a file named '{stem}' with extension " +
                         $"{AcceptedExtensions} in the images folder {imagesDirectory}");
            ok = false;
        }

        return ok;
    }

    private static List<LabelledSection> Pair(
        string stem, string imageFile, IReadOnlyList<GrayImage> imagePages, string maskFile,
        IReadOnlyList<GrayImage> maskPages, MaskKind maskKind, int? classes, ClassTable? table, List<string> problems)
    {
        var sections = new List<LabelledSection>();
        if (imagePages.Count != maskPages.Count)
        {
            problems.Add($"{maskFile}: mask has {Pages(maskPages.Count)} but its image {imageFile} has " +
                         $"{Pages(imagePages.Count)}; a mask needs one page per image page");
            return sections;
        }

        var stack = imagePages.Count > 1;
        for (var page = 0; page < imagePages.Count; page++)
        {
            var image = imagePages[page];
            var mask = maskPages[page];
            var where = stack ? $"{maskFile} (page {page})" : maskFile;
            if (mask.Width != image.Width || mask.Height != image.Height)
            {
                problems.Add($"{where}: mask is {mask.Width}x{mask.Height} pixels but its image {imageFile} is " +
                             $"{image.Width}x{image.Height}; a mask must have the same width and height as its image");
                continue;
            }

            if (image.DescribeConstant() is { } constant)
            {
                problems.Add($"{Where(image)}: {constant}");
                continue;
            }

            var id = stack ? string.Create(CultureInfo.InvariantCulture, $"{stem}#{page}") : stem;
            if (Target(id, image, mask, maskKind, classes, table, out var problem) is { } section)
            {
                sections.Add(section);
            }
            else
            {
                problems.Add($"{where}: {problem}");
            }
        }

        return sections;
    }

    /// <summary>
    /// Null when at least one of <paramref name="sections"/> has a mask holding both foreground and background;
    /// otherwise a problem naming <paramref name="masksLocation"/> (a folder or a stored data set) and saying what
    /// the masks hold. A set without both classes in one mask trains a network that answers one class everywhere
    /// and scores it perfectly (IoU 1.0 on all-foreground masks), so it is refused rather than trained on.
    /// </summary>
    public static string? DescribeMissingClass(IReadOnlyList<LabelledSection> sections, string masksLocation)
    {
        ArgumentNullException.ThrowIfNull(sections);
        if (sections.Count == 0)
        {
            return null;
        }

        int allBackground = 0, allForeground = 0;
        foreach (var section in sections)
        {
            var foreground = section.Mask.AsSpan().ContainsAnyExcept((byte)0);
            var background = section.Mask.AsSpan().Contains((byte)0);
            if (foreground && background)
            {
                return null;
            }

            if (foreground)
            {
                allForeground++;
            }
            else
            {
                allBackground++;
            }
        }

        var held = (allBackground, allForeground) switch
        {
            (_, 0) => $"all {Masks(sections.Count)} are entirely background (0)",
            (0, _) => $"all {Masks(sections.Count)} are entirely foreground (above 0)",
            _ => $"each mask is a single class ({allBackground} entirely background, {allForeground} entirely foreground)",
        };
        return $"{masksLocation}: no mask has both foreground and background: {held}; at least one mask must contain both " +
               "foreground (255, 65535 or 1) and background (0) pixels, or the network has nothing to tell apart";
    }

    /// <summary>
    /// The labelled section of a mask of the given kind (<see cref="Classify"/>): a binary mask as 0/1, object ids as
    /// <see cref="InstanceTargets"/> makes them a training target, class indices as they are; or null with the problem.
    /// </summary>
    private static LabelledSection? Target(string id, GrayImage image, GrayImage mask, MaskKind kind, int? classes, ClassTable? table, out string? problem)
    {
        switch (Classify(mask, kind, out var binary, out problem))
        {
            case MaskKind.Binary:
                return new LabelledSection(id, image, binary!);
            case MaskKind.Instances:
                var idMask = mask;
                if (mask.Channels > 1)
                {
                    if (IdsFromColours(mask, out problem) is not { } ids)
                    {
                        return null;
                    }

                    idMask = ids;
                }

                var (target, objects, border) = InstanceTargets.FromWithBorder(idMask);
                return new LabelledSection(id, image, target) { Kind = MaskKind.Instances, Instances = objects, Border = border };
            case MaskKind.Classes:
                return ClassIndices(mask, classes, out problem, table) is { } indices
                    ? new LabelledSection(id, image, indices) { Kind = MaskKind.Classes }
                    : null;
            default:
                return null;
        }
    }

    /// <summary>The most classes a class mask may index (0..255): <c>UNetOptions.Classes</c>' limit, one byte per pixel.</summary>
    public const int MaxClasses = 256;

    /// <summary>
    /// A class mask's values as class indices, or null with <paramref name="problem"/> naming the first pixel whose
    /// index is at or above <paramref name="classes"/> (<c>--classes</c>), or above <see cref="MaxClasses"/> − 1.
    /// </summary>
    /// <param name="table">The masks' <c>classes.json</c>: required for a colour mask, whose colours it maps to indices.</param>
    public static byte[]? ClassIndices(GrayImage mask, int? classes, out string? problem, ClassTable? table = null)
    {
        ArgumentNullException.ThrowIfNull(mask);
        problem = null;
        if (mask.Channels > 1)
        {
            return ColourClassIndices(mask, table, out problem);
        }

        var limit = Math.Min(classes ?? MaxClasses, MaxClasses);
        var indices = new byte[mask.Values.Length];
        for (var i = 0; i < indices.Length; i++)
        {
            var v = mask.Values[i];
            if (v >= limit)
            {
                var over = mask.Values.Count(value => value >= limit);
                var allowed = classes is { } count && count <= MaxClasses
                    ? $"--classes {count} allows the indices 0..{count - 1}; pass a larger --classes or fix the mask"
                    : $"at most {MaxClasses} classes (indices 0..{MaxClasses - 1}) are supported";
                problem = $"class index {v} at pixel (x {i % mask.Width}, y {i / mask.Width}) ({over} pixel(s) at or above {limit}) is out of range: {allowed}";
                return null;
            }

            indices[i] = (byte)v;
        }

        return indices;
    }

    /// <summary>
    /// The class index of each pixel of a colour mask by <paramref name="table"/>; null with the problem when there is
    /// no table, or naming the first pixel whose colour has no entry (its position and colour). 16-bit colours are
    /// compared by their high byte.
    /// </summary>
    private static byte[]? ColourClassIndices(GrayImage mask, ClassTable? table, out string? problem)
    {
        if (table is null || table.IndexByColour.Count == 0)
        {
            problem = $"mask has {mask.Channels} channels (a colour class mask) but there is no {ClassTable.FileName} with colours beside the masks; " +
                      $"expected one mapping each colour to a class: {{\"classes\": [{{\"index\": 0, \"name\": \"background\", \"colour\": \"#000000\"}}, ...]}}";
            return null;
        }

        var byColour = table.IndexByColour;
        var shift = mask.BitDepth == 16 ? 8 : 0;
        var r = mask.Plane(0);
        var g = mask.Plane(1);
        var b = mask.Plane(Math.Min(2, mask.Channels - 1));
        var indices = new byte[mask.PlaneLength];
        for (var i = 0; i < indices.Length; i++)
        {
            var key = ClassTable.Key(r[i] >> shift, g[i] >> shift, b[i] >> shift);
            if (!byColour.TryGetValue(key, out var index))
            {
                problem = $"colour #{key:x6} at pixel (x {i % mask.Width}, y {i / mask.Width}) has no entry in {ClassTable.FileName}; " +
                          $"its colours are {string.Join(", ", table.Classes.Where(c => c.Colour is not null).Select(c => $"{c.Colour} ({c.Index} {c.Name})"))}";
                return null;
            }

            indices[i] = (byte)index;
        }

        problem = null;
        return indices;
    }

    /// <summary>
    /// The object ids of a colour-coded instance mask: each 4-connected region of one colour other than black is one
    /// object (touching objects have different colours), numbered 1.. in raster order as a 16-bit id image; null with
    /// the problem when there are more objects than a 16-bit id holds.
    /// </summary>
    public static GrayImage? IdsFromColours(GrayImage mask, out string? problem)
    {
        ArgumentNullException.ThrowIfNull(mask);
        var r = mask.Plane(0);
        var g = mask.Plane(1);
        var b = mask.Plane(Math.Min(2, mask.Channels - 1));
        var shift = mask.BitDepth == 16 ? 8 : 0;   // colours compared by their high byte, as for class masks
        var keys = new int[mask.PlaneLength];
        for (var i = 0; i < keys.Length; i++)
        {
            keys[i] = ClassTable.Key(r[i] >> shift, g[i] >> shift, b[i] >> shift);
        }

        var labels = ConnectedComponents.LabelEqual(keys, mask.Width, mask.Height, out var count);
        if (count > ushort.MaxValue)
        {
            problem = $"colour-coded instance mask has {count} objects, more than a 16-bit object id holds ({ushort.MaxValue}); split the image into smaller ones";
            return null;
        }

        problem = null;
        return new GrayImage(mask.Width, mask.Height, [.. labels.Select(l => (ushort)l)], 16, mask.Source, mask.Page);
    }

    /// <summary>
    /// What a mask read as <paramref name="kind"/> holds, the one rule for training and evaluation alike: Binary (with
    /// its 0/1 values in <paramref name="binary"/>), Instances (object ids), Classes (class indices, see
    /// <see cref="ClassIndices"/>), or null with <paramref name="problem"/>. Auto decides only where the mask is
    /// unambiguous: a binary mask as it is, a 16-bit mask with several non-zero values as object ids. An 8-bit one with
    /// several values could hold object ids or class indices, so it is refused, naming both kinds; Auto never guesses
    /// classes.
    /// </summary>
    public static MaskKind? Classify(GrayImage mask, MaskKind kind, out byte[]? binary, out string? problem)
    {
        ArgumentNullException.ThrowIfNull(mask);
        binary = null;
        if (mask.Channels > 1)
        {
            // Colour: classes through classes.json, or colour-coded objects; never guessed.
            problem = kind is MaskKind.Instances or MaskKind.Classes ? null : DescribeColourMask(mask) +
                (kind == MaskKind.Binary ? "; --mask-kind binary was given, but a binary mask is single-channel" : string.Empty) +
                $"; a colour mask is read with --mask-kind classes (its colours mapped to classes by a {ClassTable.FileName} beside the masks) " +
                "or --mask-kind instances (colour-coded objects: each connected region of one colour is an object)";
            return problem is null ? kind : null;
        }

        problem = null;
        binary = kind is MaskKind.Instances or MaskKind.Classes ? null : Binarise(mask);
        if (binary is not null)
        {
            return MaskKind.Binary;
        }

        if (kind is MaskKind.Instances or MaskKind.Classes)
        {
            return kind;
        }

        if (kind == MaskKind.Auto && mask.BitDepth == 16)
        {
            return MaskKind.Instances;
        }

        problem = DescribeNonBinary(mask) + (kind == MaskKind.Auto
            ? "; it could be an instance mask or a class mask: pass --mask-kind instances if its values are object ids, " +
              "or --mask-kind classes if they are class indices"
            : "; --mask-kind binary was given, but its values look like object ids or class indices: pass --mask-kind " +
              "instances or --mask-kind classes");
        return null;
    }

    /// <summary>
    /// The mask as 0/1 (1 where it is above 0), or null with <paramref name="problem"/> saying why, when it holds
    /// values other than {0, max} or {0, 1}. Ground-truth and predicted masks are read with this one rule.
    /// </summary>
    public static byte[]? TryBinarise(GrayImage mask, out string? problem)
    {
        ArgumentNullException.ThrowIfNull(mask);
        if (DescribeColourMask(mask) is { } colour)
        {
            problem = colour;
            return null;
        }

        var binary = Binarise(mask);
        problem = binary is null ? DescribeNonBinary(mask) : null;
        return binary;
    }

    /// <summary>Null for a single-channel mask; otherwise why a mask of several channels (colour) is not read.</summary>
    private static string? DescribeColourMask(GrayImage mask) => mask.Channels == 1
        ? null
        : $"mask has {mask.Channels} channels (a colour image); a binary mask must be single-channel, its values 0 and 255";

    private static byte[]? Binarise(GrayImage mask)
    {
        var max = mask.MaxValue;
        bool hasOne = false, hasMax = false;
        var binary = new byte[mask.Values.Length];
        for (var i = 0; i < binary.Length; i++)
        {
            var v = mask.Values[i];
            if (v == 0)
            {
                continue;
            }

            if (v == max)
            {
                hasMax = true;
            }
            else if (v == 1)
            {
                hasOne = true;
            }
            else
            {
                return null;
            }

            binary[i] = 1;
        }

        return hasOne && hasMax ? null : binary;
    }

    private static string DescribeNonBinary(GrayImage mask)
    {
        var max = mask.MaxValue;
        var present = new bool[max + 1];
        var offending = 0L;
        foreach (var v in mask.Values)
        {
            present[v] = true;
            if (v != 0 && v != max)
            {
                offending++;
            }
        }

        var distinct = Enumerable.Range(0, max + 1).Where(v => present[v]).ToList();
        var shown = string.Join(", ", distinct.Take(6)) + (distinct.Count > 6 ? ", …" : "");
        return $"mask is not binary: {offending} pixel(s) are neither 0 nor {max}, and it has {distinct.Count} " +
               $"distinct values ({shown}); accepted: a {mask.BitDepth}-bit mask with only 0 and {max} " +
               $"({max} = foreground), or only 0 and 1";
    }

    private static string Pages(int count) => count == 1 ? "1 page" : $"{count} pages";

    private static string Masks(int count) => count == 1 ? "1 mask" : $"{count} masks";
}
