using UNetCluster.Data.Imaging;

namespace UNetCluster.Data.Tests.BadInputs;

/// <summary>
/// Every file of the bad-input corpus (this folder, written by make-corpus.py) stays refused with the message that
/// expected.tsv gives for it, and without the reader allocating as if it decoded the pixels a header declares.
/// </summary>
public sealed class BadInputCorpusTests
{
    // Nothing in the corpus is larger than a few hundred bytes; a reader that decoded a declared size would allocate
    // hundreds of megabytes.
    private const long MaxAllocatedBytes = 16_000_000;

    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "BadInputs");

    private static readonly HashSet<string> NotCorpus = new(["expected.tsv", "make-corpus.py", "BadInputCorpusTests.cs"], StringComparer.Ordinal);

    public static TheoryData<string, string> Cases()
    {
        var cases = new TheoryData<string, string>();
        foreach (var (file, fragment) in Expected())
        {
            cases.Add(file, fragment);
        }

        return cases;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ReadPages_CorpusFile_IsRefusedNamingItWithItsMessage(string file, string fragment)
    {
        var path = Path.Combine(Folder, file);
        var allocated = GC.GetAllocatedBytesForCurrentThread();

        var error = Assert.Throws<InvalidImageException>(() => ImageReader.ReadPages(path));

        Assert.True(GC.GetAllocatedBytesForCurrentThread() - allocated < MaxAllocatedBytes, "the reader allocated as if decoding");
        Assert.StartsWith(path + ": ", error.Message, StringComparison.Ordinal);
        Assert.True(error.Message.Contains(fragment, StringComparison.Ordinal), $"expected \"{fragment}\" in: {error.Message}");
        Assert.EndsWith(InvalidImageException.Accepted + ".", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Corpus_EveryFile_IsListedInExpectedTsvAndEveryListedFileExists()
    {
        var files = Directory.EnumerateFiles(Folder).Select(Path.GetFileName).OfType<string>()
            .Where(f => !NotCorpus.Contains(f)).Order(StringComparer.Ordinal).ToList();
        var listed = Expected().Select(e => e.File).Order(StringComparer.Ordinal).ToList();

        Assert.Equal(files, listed);
        Assert.True(files.Count >= 20, $"the corpus has only {files.Count} files");
    }

    private static IEnumerable<(string File, string Fragment)> Expected() =>
        File.ReadLines(Path.Combine(Folder, "expected.tsv"))
            .Where(line => line.Length > 0 && !line.StartsWith('#'))
            .Select(line => line.Split('\t', 2))
            .Select(parts => (parts[0], parts[1]));
}
