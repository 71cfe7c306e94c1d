using System.Globalization;
using Spectre.Console;
using UNetCluster.Model.Training;

namespace UNetCluster.Client.Display;

/// <summary>
/// Shows training progress: a live bar (step, loss, tiles/s, ETA) on an interactive terminal, plain lines every
/// few seconds otherwise (logs, CI, tests).
/// </summary>
internal sealed class TrainingProgressDisplay
{
    private readonly TextWriter _output;
    private readonly bool _interactive;
    private DateTime _lastLine = DateTime.MinValue;
    private string _note = string.Empty;

    public TrainingProgressDisplay(TextWriter output)
    {
        _output = output;
        _interactive = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
    }

    /// <summary>Runs <paramref name="train"/>, giving it the progress sink that drives the display.</summary>
    public T Run<T>(long totalSteps, long startStep, Func<IProgress<TrainingProgress>, T> train)
    {
        if (!_interactive)
        {
            return train(new Sink(Line));
        }

        return Bar().Start(context =>
            {
                var task = context.AddTask("training", maxValue: totalSteps);
                task.Value = startStep;
                return train(new Sink(p =>
                {
                    task.Value = p.Step;
                    task.Description = Describe(p) + _note;
                }));
            });
    }

    /// <summary>Runs an asynchronous <paramref name="train"/> (a job followed in a cluster) with the same display.</summary>
    public async Task<T> RunAsync<T>(long totalSteps, long startStep, Func<IProgress<TrainingProgress>, Task<T>> train)
    {
        ArgumentNullException.ThrowIfNull(train);
        if (!_interactive)
        {
            return await train(new Sink(Line)).ConfigureAwait(false);
        }

        return await Bar().StartAsync(async context =>
            {
                var task = context.AddTask("training", maxValue: totalSteps);
                task.Value = startStep;
                return await train(new Sink(p =>
                {
                    task.Value = p.Step;
                    task.Description = Describe(p) + _note;
                })).ConfigureAwait(false);
            }).ConfigureAwait(false);
    }

    /// <summary>Shows a validation's outcome: a line of its own in plain output, beside the bar on a terminal.</summary>
    public void ShowValidation(string line)
    {
        if (_interactive)
        {
            _note = "  " + Markup.Escape(line);
        }
        else
        {
            _output.WriteLine(line);
        }
    }

    private static Progress Bar() => AnsiConsole.Progress()
        .AutoClear(false)
        .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn());

    private void Line(TrainingProgress p)
    {
        var now = DateTime.UtcNow;
        if (p.Step == p.TotalSteps || p.Step <= 1 || now - _lastLine > TimeSpan.FromSeconds(10))
        {
            _lastLine = now;
            _output.WriteLine(Describe(p));
        }
    }

    private static string Describe(TrainingProgress p) => string.Create(
        CultureInfo.InvariantCulture,
        $"step {p.Step}/{p.TotalSteps}  loss {p.SmoothedLoss:F4}  {p.TilesPerSecond:F2} tiles/s  elapsed {Durations.Format(p.Elapsed)}  ETA {Durations.Format(p.Remaining)}");

    private sealed class Sink(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
