using UNetCluster.Client.Commands;
using UNetCluster.Contracts.Jobs;

namespace UNetCluster.Client.Tests;

/// <summary>The lines <c>unet status</c> prints for a job (the same text <c>unet watch</c> ends with).</summary>
public sealed class StatusDescribeTests
{
    [Fact]
    public void Describe_WorkersWithTheirMemory_ShowsEachWorkersComputeAndMemoryInWorkerOrder()
    {
        var status = new JobStatus
        {
            Id = "job-1",
            Spec = new JobSpec { Precision = "bf16" },
            State = JobState.Running,
            Workers = ["w0", "w1", "w2"],
            WorkerCompute = ["cpu bf16", "cuda:1 bf16", "cpu bf16"],
            WorkerMemoryBytes = [1288490189, 512L << 20, 0],   // 1.2 GiB, 512 MiB, not measured
        };

        var lines = JobCommands.Describe(status).Split(Environment.NewLine);

        var computing = Assert.Single(lines, l => l.Contains("computing in:", StringComparison.Ordinal));
        Assert.Equal("  computing in: cpu bf16 (1.2 GiB RSS), cuda:1 bf16 (512 MiB RSS), cpu bf16 (worker order)", computing);
    }

    [Fact]
    public void Describe_StatusFromACoordinatorThatSentNoMemory_ShowsTheComputeAlone()
    {
        // A status from a silo built before the memory figure existed has WorkerCompute but no WorkerMemoryBytes.
        var status = new JobStatus { Id = "job-2", Spec = new JobSpec(), WorkerCompute = ["cpu fp32"] };

        var lines = JobCommands.Describe(status).Split(Environment.NewLine);

        Assert.Contains("  computing in: cpu fp32 (worker order)", lines);
    }

    [Theory]
    [InlineData(476, "quick", "  data set cells, preset quick, tile 476x476, seed 7, 0 parameters")]   // fitted to small images by the cluster
    [InlineData(null, "nuclei", "  data set cells, preset nuclei, tile 380x380, seed 7, 0 parameters")]
    [InlineData(null, "from-a-newer-client", "  data set cells, preset from-a-newer-client, seed 7, 0 parameters")]
    public void Describe_TrainingJob_ShowsTheTileItTrainsOn(int? tile, string preset, string expected)
    {
        var status = new JobStatus { Id = "job-3", Spec = new JobSpec { DataSet = "cells", Preset = preset, Seed = 7, TileSize = tile } };

        var lines = JobCommands.Describe(status).Split(Environment.NewLine);

        Assert.Equal(expected, lines[2]);
    }

    [Theory]
    [InlineData(6, "(best: within one standard error (0.05) of the top value, 0.8 at step 4)")]
    [InlineData(8, "(best 0.76 at step 6; the top value, 0.8 at step 4)")]
    public void Describe_BestWithinOneStandardErrorOfTheHighest_SaysWhichIsWhich(long step, string verdict)
    {
        ValidationResult Validation(long at, double value, bool improved) =>
            new() { Step = at, Metric = "object-f1", Value = value, Threshold = 0.5, Improved = improved, StandardError = 0.05 };
        var best = Validation(6, 0.76, improved: true) with { SelectionMargin = 0.05 };
        var status = new JobStatus
        {
            Id = "job-3",
            Spec = new JobSpec(),
            Validation = step == 6 ? best : Validation(8, 0.70, improved: false),
            BestValidation = best,
            HighestValidation = Validation(4, 0.80, improved: true),
        };

        var lines = JobCommands.Describe(status).Split(Environment.NewLine);

        Assert.Contains(lines, l => l.Contains($"validation at step {step}: object-f1 ", StringComparison.Ordinal) && l.Contains(verdict, StringComparison.Ordinal));
        Assert.Contains("  best: step 6, object-f1 0.76 at threshold 0.50; checkpoint (being written)", lines);
    }

    [Fact]
    public void Describe_BestTyingTheHighest_SaysEqualRatherThanWithinAnErrorOfZero()
    {
        // One validation section has no spread, so a later validation is the best only by tying the top value.
        var best = new ValidationResult { Step = 6, Metric = "object-f1", Value = 0.8, Threshold = 0.5, Improved = true, StandardError = 0, SelectionMargin = 0 };
        var status = new JobStatus
        {
            Id = "job-4",
            Spec = new JobSpec(),
            Validation = best,
            BestValidation = best,
            HighestValidation = best with { Step = 4 },
        };

        var lines = JobCommands.Describe(status).Split(Environment.NewLine);

        Assert.Contains(lines, l => l.Contains("validation at step 6: object-f1 ", StringComparison.Ordinal) && l.Contains("(best: equal to the top value, 0.8 at step 4)", StringComparison.Ordinal));
    }

    [Fact]
    public void Describe_BestMarkingNoContactsAsBorder_WarnsThatTheBorderClassWasNotLearned()
    {
        ValidationResult Validation(double? marked) => new()
        {
            Step = 500, Metric = "object-f1", Value = 0.9, Threshold = 0.5, Improved = true, ObjectF1 = 0.9,
            ContactPixels = marked is null ? null : 400, ContactsMarked = marked,
        };
        string[] Lines(ValidationResult best) =>
            JobCommands.Describe(new JobStatus { Id = "job-5", Spec = new JobSpec(), Validation = best, BestValidation = best }).Split(Environment.NewLine);

        var dead = Lines(Validation(0.0025));
        var learned = Lines(Validation(0.214));
        var binary = Lines(Validation(null));

        Assert.Contains(dead, l => l.Contains("object F1 0.900, contacts marked as border 0.3 %", StringComparison.Ordinal));
        var warning = Assert.Single(dead, l => l.Contains("warning:", StringComparison.Ordinal));
        Assert.Contains("predicts 0.3 % of the 400 validation pixels where two objects touch as border", warning, StringComparison.Ordinal);
        Assert.Contains("--class-weights 1,1,30", warning, StringComparison.Ordinal);
        Assert.Contains("for longer (--steps, --minutes), at twice the rate with a cooldown (--lr 4e-3 --schedule cooldown)", warning, StringComparison.Ordinal);
        Assert.Contains(learned, l => l.Contains("contacts marked as border 21.4 %", StringComparison.Ordinal));
        Assert.DoesNotContain(learned, l => l.Contains("warning:", StringComparison.Ordinal));
        Assert.DoesNotContain(binary, l => l.Contains("contacts", StringComparison.Ordinal) || l.Contains("warning:", StringComparison.Ordinal));
    }
}
