namespace UNetCluster.Data.Storage;

/// <summary>
/// Blob names: relative paths of '/'-separated segments, each non-empty and neither '.' nor '..', without
/// backslashes, control characters or a leading '/', at most 1024 characters. The same names are valid in a folder
/// and in Azure Blob storage, and none escapes its root.
/// </summary>
public static class BlobNames
{
    public const int MaxLength = 1024;

    /// <summary>Names starting with this are reserved for the folder store's own files.</summary>
    public const string ReservedPrefix = ".blobstore";

    /// <summary>Throws <see cref="ArgumentException"/> naming what is wrong with <paramref name="name"/>.</summary>
    public static string Validate(string name)
    {
        if (Problem(name, allowTrailingSlash: false) is { } problem)
        {
            throw new ArgumentException($"Invalid blob name '{name}': {problem}", nameof(name));
        }

        return name;
    }

    /// <summary>Validates a listing prefix: "" or a name, optionally ending with '/'.</summary>
    public static string ValidatePrefix(string prefix)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        if (prefix.Length > 0 && Problem(prefix, allowTrailingSlash: true) is { } problem)
        {
            throw new ArgumentException($"Invalid blob prefix '{prefix}': {problem}", nameof(prefix));
        }

        return prefix;
    }

    /// <summary>Joins name parts with '/', skipping empty ones.</summary>
    public static string Combine(params string[] parts) =>
        string.Join('/', parts.Where(p => !string.IsNullOrEmpty(p)).Select(p => p.Trim('/')).Where(p => p.Length > 0));

    private static string? Problem(string? name, bool allowTrailingSlash)
    {
        if (string.IsNullOrEmpty(name))
        {
            return "it is empty.";
        }

        if (name.Length > MaxLength)
        {
            return $"it is longer than {MaxLength} characters.";
        }

        if (name.Contains('\\', StringComparison.Ordinal))
        {
            return "it contains a backslash; use '/' between segments.";
        }

        if (name.Any(char.IsControl))
        {
            return "it contains a control character.";
        }

        if (name[0] == '/' || Path.IsPathRooted(name))
        {
            return "it is an absolute path; names are relative to the store's root.";
        }

        if (name.StartsWith(ReservedPrefix, StringComparison.Ordinal))
        {
            return $"names starting with '{ReservedPrefix}' are reserved.";
        }

        var body = allowTrailingSlash && name.EndsWith('/') ? name[..^1] : name;
        foreach (var segment in body.Split('/'))
        {
            if (segment.Length == 0)
            {
                return "it has an empty segment ('//' or a trailing '/').";
            }

            if (segment is "." or "..")
            {
                return $"it has a '{segment}' segment; names cannot leave the store's root.";
            }
        }

        return null;
    }
}
