namespace UNetCluster.Client.Commands;

/// <summary>
/// Checks a folder a verb will write into (<c>--out</c>) before anything is written: it must not be a file or lie
/// below one, and a folder that does not exist yet must be creatable where its nearest existing parent is.
/// </summary>
internal static class OutputFolder
{
    /// <summary>Throws a <see cref="UserInputException"/> naming <paramref name="option"/> when <paramref name="path"/> cannot be written.</summary>
    public static void Require(string path, string option)
    {
        var full = Path.GetFullPath(path);
        for (var at = full; at is not null; at = Path.GetDirectoryName(at))
        {
            if (File.Exists(at))
            {
                throw new UserInputException(at == full
                    ? $"{option} {full} is a file: expected a folder (it is created when missing). Nothing was written."
                    : $"{option} {full} lies below {at}, which is a file: expected a folder (it is created when missing). Nothing was written.");
            }

            if (Directory.Exists(at))
            {
                if (at != full)
                {
                    RequireCreatable(at, full, option);
                }

                return;
            }
        }
    }

    /// <summary>Creates and removes an empty probe folder in <paramref name="parent"/>: only the file system knows whether it may be written.</summary>
    private static void RequireCreatable(string parent, string full, string option)
    {
        var probe = Path.Combine(parent, ".unet-probe-" + Guid.NewGuid().ToString("N"));
        try
        {
            Directory.CreateDirectory(probe);
            Directory.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException(
                $"{option} {full} cannot be created: {parent} does not accept new folders ({e.Message}). Expected a folder you can write. Nothing was written.", e);
        }
    }
}
