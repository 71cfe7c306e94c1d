using UNetCluster.Data.DataSets;

namespace UNetCluster.Client.Tests;

/// <summary>
/// Bad command lines that must stay refused: each exits 2 with one message on stderr naming the option and what it
/// accepts (no .NET type or parameter names, no stack trace), prints nothing on stdout that looks like an error, and
/// writes nothing. {tmp} is a fresh empty folder, {file} an existing file in it.
/// </summary>
public sealed class BadArgumentCorpusTests
{
    public static TheoryData<string, string> Corpus => new()
    {
        // Tile size against section size (the bundled sections are 512 x 512; 700 gives a 516 x 516 output).
        { "train --tile 700 --out {tmp}/run", "--tile 700 is too large for data set" },
        { "train --tile 700 --out {tmp}/run", "at most 684" },

        // Parse errors name the option and the accepted form.
        { "train --steps abc --out {tmp}/run", "--steps abc is invalid: expected an integer" },
        { "train --minutes soon --out {tmp}/run", "--minutes soon is invalid: expected a number" },
        { "train --tile 57.2 --out {tmp}/run", "--tile 57.2 is invalid: expected an integer" },
        { "predict --checkpoint {tmp} --input {tmp} --out {tmp}/o --threshold half", "--threshold half is invalid: expected a number" },
        { "train --no-such-option --out {tmp}/run", "--no-such-option" },
        { "train --class-balance --no-class-balance --out {tmp}/run", "--class-balance and --no-class-balance contradict each other" },
        { "train --class-weights 1,a --out {tmp}/run", "--class-weights '1,a' is invalid: expected one number per class separated by commas" },
        { "train --class-weights 1,1,1 --out {tmp}/run", "--class-weights 1,1,1 is invalid: expected one weight per class (2)" },
        { "predict --input {tmp} --out {tmp}/o", "--checkpoint" },

        // Model and optimizer options by their command-line names.
        { "train --base-channels 0 --out {tmp}/run", "--base-channels 0 is invalid: expected an integer from 1 to 1024" },
        { "train --lr 0 --out {tmp}/run", "--lr 0 is invalid: expected a number in (0, 10]" },
        { "train --validation-sections 24 --out {tmp}/run", "--validation-sections 24 leaves no section to train on" },
        { "train --channels 0 --out {tmp}/run", "--channels 0 is invalid: expected an integer from 1 to 4" },
        { "train --channels 3 --out {tmp}/run", "--channels 3 does not match data set" },
        { "train --normalisation zscore --out {tmp}/run", "--normalisation 'zscore' is unknown: expected mean-std or percentile" },

        // Options with a fixed set of values: refused by the parser, naming the option and every accepted value.
        { "train --preset fast --out {tmp}/run", "--preset 'fast' is unknown: expected " },
        { "train --optimizer adamw --out {tmp}/run", "--optimizer 'adamw' is unknown: expected sgd or adam." },
        { "train --schedule linear --out {tmp}/run", "--schedule 'linear' is unknown: expected constant, cosine or cooldown." },
        { "train --loss dice --out {tmp}/run", "--loss 'dice' is unknown: expected weighted-cross-entropy, soft-dice or dice-cross-entropy." },
        { "train --border-class --border-kind edge --out {tmp}/run", "--border-kind 'edge' is unknown: expected touching, outline or core." },
        { "train --precision fp16 --out {tmp}/run", "--precision 'fp16' is unknown: expected fp32 or bf16." },
        { "train --select-by accuracy --out {tmp}/run", "--select-by 'accuracy' is unknown: expected pixel-error, " },
        { "train --mask-kind labels --out {tmp}/run", "--mask-kind 'labels' is unknown: expected auto, binary, instances or classes." },
        { "train --device gpu --out {tmp}/run", "--device 'gpu' is unknown: expected auto, cpu, cuda or cuda:N" },
        { "predict --checkpoint {tmp} --input {tmp} --out {tmp}/o --precision half", "--precision 'half' is unknown: expected fp32 or bf16." },
        { "predict --checkpoint {tmp} --input {tmp} --out {tmp}/o --device tpu", "--device 'tpu' is unknown" },
        { "evaluate --predictions {tmp} --masks {tmp} --mask-kind objects", "--mask-kind 'objects' is unknown: expected auto, binary, instances or classes." },
        { "dataset upload d --images {tmp} --masks {tmp} --root {tmp}/store --mask-kind x", "--mask-kind 'x' is unknown" },
        { "submit --preset huge --gateway 127.0.0.1:1", "--preset 'huge' is unknown: expected " },

        // Output folders that cannot be written.
        { "train --preset tiny --out {file}", "is a file: expected a folder" },
        { "train --preset tiny --out {file}/run", "which is a file: expected a folder" },
        { "train --preset tiny --out /proc/unet-cannot-be-here/run", "--out /proc/unet-cannot-be-here/run cannot be created" },
        { "predict --checkpoint {tmp} --input " + "{unlabelled}" + " --out {file}", "--out {file} is a file" },

        // Stores that are not there.
        { "dataset list --root {file}", "--root {file} is a file" },
        { "dataset list --root {tmp}/nowhere", "--root {tmp}/nowhere does not exist" },
    };

    [Theory]
    [MemberData(nameof(Corpus))]
    public async Task Cli_BadArguments_ExitTwoWithAMessageNamingTheOptionOnStderrAndWriteNothing(string commandLine, string expected)
    {
        var tmp = CliRunner.TemporaryDirectory();
        var file = Path.Combine(tmp, "a-file.txt");
        await File.WriteAllTextAsync(file, "not a folder", TestContext.Current.CancellationToken);
        string Expand(string text) => text.Replace("{tmp}", tmp, StringComparison.Ordinal).Replace("{file}", file, StringComparison.Ordinal)
            .Replace("{unlabelled}", Path.Combine(BundledData.UnlabelledDirectory, "test-00.png"), StringComparison.Ordinal);
        var before = CliRunner.Snapshot(tmp);

        var (code, output, error) = await CliRunner.RunAsync(Expand(commandLine).Split(' '));

        Assert.True(code == 2, $"exit {code}\nstdout: {output}\nstderr: {error}");
        Assert.Contains(Expand(expected), error, StringComparison.Ordinal);
        Assert.DoesNotContain("error", output, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("System.", error, StringComparison.Ordinal);
        Assert.DoesNotContain("(Parameter '", error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        Assert.Equal(before, CliRunner.Snapshot(tmp));
        Assert.Equal([file], Directory.GetFileSystemEntries(tmp));
    }
}
