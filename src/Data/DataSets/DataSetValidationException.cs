namespace UNetCluster.Data.DataSets;

/// <summary>
/// Thrown by <see cref="DataSetLoader"/> after checking every file, with one entry in <see cref="Problems"/> per
/// problem found; each entry names the file or folder concerned and says what would be accepted.
/// </summary>
/// <remarks>
/// The message lists the problems once each; a problem that <see cref="GroupFrom"/> or more files share word for word
/// (every mask of a set in the wrong format, say) is one line naming the first <see cref="FilesNamed"/> of them and
/// how many more, so a set of thousands of files does not print thousands of identical lines. <see cref="Problems"/>
/// keeps every entry.
/// </remarks>
public sealed class DataSetValidationException : Exception
{
    /// <summary>How many files must share a problem before the message gives it one line.</summary>
    public const int GroupFrom = 3;

    /// <summary>How many of a shared problem's files the message names.</summary>
    public const int FilesNamed = 5;

    public DataSetValidationException(string summary, IReadOnlyList<string> problems)
        : base(Format(summary, problems))
    {
        Problems = problems;
    }

    public IReadOnlyList<string> Problems { get; }

    private static string Format(string summary, IReadOnlyList<string> problems)
    {
        ArgumentNullException.ThrowIfNull(problems);
        var count = problems.Count == 1 ? "1 problem" : $"{problems.Count} problems";
        return $"{summary} ({count}):{Environment.NewLine}" +
               string.Join(Environment.NewLine, Lines(problems).Select(p => "  - " + p));
    }

    // Each entry is "{file or folder}: {what is wrong}" (DataSetLoader's form); entries whose part after the first
    // ": " is the same in GroupFrom or more become one line, in the place of the first of them.
    private static IEnumerable<string> Lines(IReadOnlyList<string> problems)
    {
        var groups = problems
            .Select(p => p.IndexOf(": ", StringComparison.Ordinal) is var at and > 0 ? (File: p[..at], What: p[(at + 2)..], Entry: p) : (File: "", What: p, Entry: p))
            .GroupBy(p => p.What, StringComparer.Ordinal);
        foreach (var group in groups)
        {
            var files = group.ToList();
            if (files.Count < GroupFrom || files.Any(f => f.File.Length == 0))
            {
                foreach (var file in files)
                {
                    yield return file.Entry;
                }

                continue;
            }

            var named = string.Join(", ", files.Take(FilesNamed).Select(f => f.File));
            var more = files.Count > FilesNamed ? $" and {files.Count - FilesNamed} more" : "";
            yield return $"{files.Count} files ({named}{more}): {group.Key}";
        }
    }
}
