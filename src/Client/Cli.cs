using System.CommandLine;
using UNetCluster.Client.Commands;

namespace UNetCluster.Client;

/// <summary>The <c>unet</c> command line: verbs, their options, and the exit codes (the README's "Exit codes").</summary>
public static class Cli
{
    /// <summary>Done: the command did what it was asked; a watched job completed.</summary>
    public const int Ok = 0;

    /// <summary>A watched job failed or completed with errors, training failed, or storage or the cluster failed a request.</summary>
    public const int Failed = 1;

    /// <summary>Bad input: an option, a file, a spec the cluster refused, an unknown job, a missing or wrong API token. Nothing was changed.</summary>
    public const int BadInput = 2;

    /// <summary>The cluster cannot be reached: its gateway, Redis membership or REST API does not answer.</summary>
    public const int Unreachable = 3;

    /// <summary>Interrupted (Ctrl+C), or a watched job was cancelled.</summary>
    public const int Cancelled = 130;

    /// <summary>Parses and runs one command line, writing to the given writers. Returns the exit code.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var root = Create(output, error);
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var parseError in parsed.Errors)
            {
                await error.WriteLineAsync($"error: {ParseErrors.Describe(parseError)}").ConfigureAwait(false);
            }

            var verb = parsed.CommandResult.Command == root ? "unet" : $"unet {CommandPath(parsed.CommandResult)}";
            await error.WriteLineAsync($"'{verb} --help' lists the options and what they accept.").ConfigureAwait(false);
            return BadInput;
        }

        var configuration = new InvocationConfiguration
        {
            Output = output,
            Error = error,
            // Ctrl+C cancels the token; train then finishes its step and writes a checkpoint, which can take longer
            // than the library's default two seconds, so the process is never killed from under it.
            ProcessTerminationTimeout = null,
        };
        using var interrupt = new CancellationTokenSource();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(interrupt.Token, cancellationToken);
        void OnCancel(object? sender, ConsoleCancelEventArgs e)
        {
            e.Cancel = true;
            interrupt.Cancel();
        }

        Console.CancelKeyPress += OnCancel;
        try
        {
            return await parsed.InvokeAsync(configuration, linked.Token).ConfigureAwait(false);
        }
        finally
        {
            Console.CancelKeyPress -= OnCancel;
        }
    }

    /// <summary>Every verb with its options, writing to the given writers.</summary>
    internal static RootCommand Create(TextWriter output, TextWriter error)
    {
        var root = new RootCommand(
            "UNetCluster: train the U-Net of Ronneberger, Fischer and Brox (2015) on biomedical images, predict and evaluate. " +
            "Exit codes: 0 done, 1 a job or request failed, 2 bad input, 3 the cluster cannot be reached, 130 interrupted or the job was cancelled.")
        {
            TrainCommand.Create(output, error),
            PredictCommand.Create(output, error),
            EvaluateCommand.Create(output, error),
            DataSetCommands.Create(output, error),
        };
        foreach (var command in JobCommands.Create(output, error))
        {
            root.Subcommands.Add(command);
        }

        return root;
    }

    /// <summary>"dataset upload": the verbs from the root to a parsed command.</summary>
    private static string CommandPath(System.CommandLine.Parsing.CommandResult command)
    {
        var names = new List<string>();
        for (var at = command; at.Parent is System.CommandLine.Parsing.CommandResult parent; at = parent)
        {
            names.Insert(0, at.Command.Name);
        }

        return string.Join(' ', names);
    }
}
