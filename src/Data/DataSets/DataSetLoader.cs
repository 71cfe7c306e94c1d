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
    /// <exception cref="DataSetValidationException">
    /// Listing every problem found, each naming its file or folder: missing or empty folder, image without mask, mask
    /// without image, two files with one stem, unreadable, truncated, corrupt or over-large file, unsupported bit depth
    /// or channels, page count or size that differs between mask and image, mask that is not binary, masks that are
    /// all one class.
    /// </exception>
    public static LabelledDataSet LoadLabelled(string imagesDirectory, string masksDirectory, ImageLimits? limits = null, MaskKind maskKind = MaskKind.Auto)
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
        var maskFiles = ListImageFiles(masksDirectory, "masks", problems);
        var imagesByStem = GroupByStem(imageFiles);
        var masksByStem = GroupByStem(maskFiles);

        var sections = new List<LabelledSection>();
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
            var pairSections = Pair(stem, images[0], imageStack, masks[0], maskStack, maskKind, pairProblems);
            problems.AddRange(pairProblems);
            if (pairProblems.Count == 0)
            {
                sections.AddRange(pairSections);
            }
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

        return new LabelledDataSet(sections);
    }

    /// <summary>
    /// One labelled item: an image file (one section, or one per page of a TIFF stack) and its mask file, checked by
    /// the same rules as <see cref="LoadLabelled"/>; sections are named after <paramref name="stem"/>.
    /// </summary>
    /// <param name="limits">The largest image read; <see cref="ImageLimits.Default"/> when null.</param>
    /// <exception cref="DataSetValidationException">Listing every problem of the pair, each naming its file.</exception>
    public static IReadOnlyList<LabelledSection> LoadPair(string stem, string imageFile, string maskFile, ImageLimits? limits = null, MaskKind maskKind = MaskKind.Auto)
    {
        ArgumentException.ThrowIfNullOrEmpty(stem);
        ArgumentException.ThrowIfNullOrEmpty(imageFile);
        ArgumentException.ThrowIfNullOrEmpty(maskFile);
        var problems = new List<string>();
        var imagePages = TryRead(imageFile, problems, limits);
        var maskPages = TryRead(maskFile, problems, limits);
        var sections = imagePages is null || maskPages is null ? [] : Pair(stem, imageFile, imagePages, maskFile, maskPages, maskKind, problems);
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
        IReadOnlyList<GrayImage> maskPages, MaskKind maskKind, List<string> problems)
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
            if (Target(id, image, mask, maskKind, out var problem) is { } section)
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
    /// <see cref="InstanceTargets"/> makes them a training target; or null with the problem.
    /// </summary>
    private static LabelledSection? Target(string id, GrayImage image, GrayImage mask, MaskKind kind, out string? problem)
    {
        switch (Classify(mask, kind, out var binary, out problem))
        {
            case MaskKind.Binary:
                return new LabelledSection(id, image, binary!);
            case MaskKind.Instances:
                var (target, objects) = InstanceTargets.From(mask);
                return new LabelledSection(id, image, target) { Instances = objects };
            default:
                return null;
        }
    }

    /// <summary>
    /// What a mask read as <paramref name="kind"/> holds, the one rule for training and evaluation alike: Binary (with
    /// its 0/1 values in <paramref name="binary"/>), Instances (object ids), or null with <paramref name="problem"/>.
    /// Auto takes a binary mask as it is and a 16-bit mask with several non-zero values as object ids; an 8-bit one
    /// could also be a grey-level or class-index mask, so it is refused, saying how to name its kind.
    /// </summary>
    public static MaskKind? Classify(GrayImage mask, MaskKind kind, out byte[]? binary, out string? problem)
    {
        ArgumentNullException.ThrowIfNull(mask);
        binary = null;
        if (DescribeColourMask(mask) is { } colour)
        {
            problem = colour;
            return null;
        }

        problem = null;
        binary = kind == MaskKind.Instances ? null : Binarise(mask);
        if (binary is not null)
        {
            return MaskKind.Binary;
        }

        if (kind == MaskKind.Instances || (kind == MaskKind.Auto && mask.BitDepth == 16))
        {
            return MaskKind.Instances;
        }

        problem = DescribeNonBinary(mask) + (kind == MaskKind.Auto
            ? "; if its values are object ids (an instance mask), pass --mask-kind instances"
            : string.Empty);
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
        : $"mask has {mask.Channels} channels (a colour image); a mask must be single-channel, its values 0 and 255 " +
          "(binary) or object ids, with the same file name as its image";

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
