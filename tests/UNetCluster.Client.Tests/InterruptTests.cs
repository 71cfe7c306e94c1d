using System.Diagnostics;

namespace UNetCluster.Client.Tests;

public sealed class InterruptTests
{
    [Fact]
    public async Task Train_CancelledMidRun_WritesACheckpointAndSaysHowToResume()
    {
        var run = Path.Combine(CliRunner.TemporaryDirectory(), "run");
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        stop.CancelAfter(TimeSpan.FromSeconds(20));   // the in-process silo starts and the first steps run
        using var output = new StringWriter();
        using var error = new StringWriter();

        var code = await Cli.RunAsync(["train", "--preset", "tiny", "--steps", "1000000", "--out", run], output, error, stop.Token);

        Assert.Equal(Cli.Cancelled, code);
        Assert.Contains("interrupted; checkpoint written", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("unet train --resume --out", output.ToString(), StringComparison.Ordinal);
        var latest = File.ReadAllText(Path.Combine(run, "checkpoints", "latest")).Trim();
        Assert.True(long.Parse(latest, System.Globalization.CultureInfo.InvariantCulture) > 0, latest);
    }

    [Fact]
    public async Task Train_SigintToTheProcess_StopsAfterWritingACheckpoint()
    {
        // What Ctrl+C does in a terminal: SIGINT to the unet process, which must finish its step and save.
        var run = Path.Combine(CliRunner.TemporaryDirectory(), "run");
        var unet = Path.Combine(AppContext.BaseDirectory, "unet.dll");
        // Through env --default-signal=INT: a test run started in the background by a non-interactive shell (as a
        // CI runner may) ignores SIGINT, children inherit that, and a process that ignores SIGINT from its start
        // never sees Ctrl+C; a terminal would have given unet the default disposition.
        var start = new ProcessStartInfo("env")
        {
            ArgumentList = { "--default-signal=INT", "dotnet", unet, "train", "--preset", "tiny", "--steps", "1000000", "--out", run },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var lines = new List<string>();
        var firstStep = new TaskCompletionSource();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            lock (lines)
            {
                lines.Add(e.Data);
            }

            if (e.Data.StartsWith("step ", StringComparison.Ordinal))
            {
                firstStep.TrySetResult();
            }
        };
        process.BeginOutputReadLine();
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        try
        {
            await firstStep.Task.WaitAsync(TimeSpan.FromMinutes(2), TestContext.Current.CancellationToken);
            using (var kill = Process.Start("kill", ["-INT", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync(TestContext.Current.CancellationToken);
            }

            await process.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken);
        }
        catch (TimeoutException)
        {
            // Say what the process had printed by then: where it was when it did not stop.
            process.Kill(entireProcessTree: true);
            Assert.Fail($"unet train did not exit within a minute of SIGINT; its output:\n{Text()}\n{await stderr}");
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        string Text()
        {
            lock (lines)
            {
                return string.Join('\n', lines);
            }
        }

        var text = Text();

        Assert.True(process.ExitCode == Cli.Cancelled, $"exit {process.ExitCode}\n{text}\n{await stderr}");
        Assert.Contains("interrupted; checkpoint written", text, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(run, "checkpoints", "latest")));
    }
}
