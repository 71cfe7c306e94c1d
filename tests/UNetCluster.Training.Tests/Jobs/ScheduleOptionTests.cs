using UNetCluster.Contracts.Jobs;
using UNetCluster.Model.Training;
using UNetCluster.Training.Jobs;

namespace UNetCluster.Training.Tests.Jobs;

/// <summary>The learning-rate schedule a user chooses (<c>--schedule</c>, the job spec's <c>schedule</c>).</summary>
public sealed class ScheduleOptionTests
{
    [Theory]
    [InlineData("quick", null, LearningRateSchedule.Cosine)]      // the preset's
    [InlineData("quick", "constant", LearningRateSchedule.Constant)]
    [InlineData("paper", null, LearningRateSchedule.Constant)]
    [InlineData("paper", "Cosine", LearningRateSchedule.Cosine)]
    [InlineData("nuclei", "cooldown", LearningRateSchedule.Cooldown)]
    public void Build_SpecFromTheCommandLinesSchedule_EveryWorkerFollowsIt(string preset, string? schedule, LearningRateSchedule expected)
    {
        var spec = JobOptions.Spec("isbi2012-em", preset, 42, new TrainingOverrides { Schedule = schedule });

        var options = JobOptions.Build(spec);

        Assert.Equal(schedule, spec.Schedule);
        Assert.Equal(expected, options.Schedule);
        var halfway = options.LearningRateAt(0.5);
        Assert.Equal(expected == LearningRateSchedule.Cosine ? options.Optimizer.LearningRate / 2 : options.Optimizer.LearningRate, halfway, 12);
    }

    [Theory]
    [InlineData(0.0, 1.0)]
    [InlineData(0.8, 1.0)]      // the full rate to the cooldown's start
    [InlineData(0.9, 0.5)]      // half way down the last fifth
    [InlineData(1.0, 0.0)]
    [InlineData(1.5, 0.0)]      // progress is clamped to the run
    public void LearningRateAt_Cooldown_HoldsTheRateThenFallsInAStraightLineToZero(double progress, double shareOfTheRate)
    {
        var options = JobOptions.Build(JobOptions.Spec("isbi2012-em", "quick", 42, new TrainingOverrides { Schedule = "cooldown", LearningRate = 0.004 }));

        Assert.Equal(0.004 * shareOfTheRate, options.LearningRateAt(progress), 12);
    }

    [Fact]
    public void Build_UnknownSchedule_IsRefusedNamingTheOptionAndTheAcceptedNames()
    {
        var spec = new JobSpec { Preset = "tiny", Schedule = "linear" };

        var error = Assert.Throws<ArgumentException>(() => JobOptions.Build(spec));

        Assert.Equal("--schedule 'linear' is unknown: expected constant, cosine or cooldown.", error.Message);
    }
}
