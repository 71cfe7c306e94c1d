namespace UNetCluster.Data.DataSets;

/// <summary>
/// Thrown by <see cref="DataSetLoader"/> after checking every file, with one entry in <see cref="Problems"/> per
/// problem found; each entry names the file or folder concerned and says what would be accepted.
/// </summary>
public sealed class DataSetValidationException : Exception
{
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
               string.Join(Environment.NewLine, problems.Select(p => "  - " + p));
    }
}
