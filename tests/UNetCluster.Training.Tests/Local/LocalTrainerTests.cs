using UNetCluster.Model;
using UNetCluster.Model.Checkpoints;
using UNetCluster.Model.Modules;
using UNetCluster.Model.Optimization;
using UNetCluster.Model.Tests;
using UNetCluster.Model.Training;
using UNetCluster.Training.Checkpoints;
using UNetCluster.Training.Local;
using static TorchSharp.torch;

namespace UNetCluster.Training.Tests.Local;

public sealed class LocalTrainerTests
{
    [Fact]
    public void Run_30StepsOnRealTiles_LossFalls()
    {
        var options = TestSupport.SmallTraining(steps: 30);
        using var data = TrainingData.Create(TestSupport.BundledSections, options.ValidationSections, options.WeightMap);
        using var trainer = new LocalTrainer(options, data, new LocalCheckpointStore(TestSupport.TemporaryDirectory()));
        var losses = new List<double>();
        var outcome = trainer.Run(new Recorder(p => losses.Add(p.Loss)), CancellationToken.None);

        Assert.Equal(30, outcome.Step);
        Assert.Equal(TrainingStop.Completed, outcome.Stop);
        Assert.Equal(30, losses.Count);
        var first = losses.Take(5).Average();
        var last = losses.TakeLast(5).Average();
        Assert.True(last < 0.8 * first, $"mean loss of the first 5 steps {first:F4}, of the last 5 {last:F4}");
    }

    [Fact]
    public void Run_SameSeedTwice_GivesBitIdenticalParameters()
    {
        var options = TestSupport.SmallTraining(steps: 4);
        using var data = TrainingData.Create(TestSupport.BundledSections, options.ValidationSections, options.WeightMap);
        Tensor Train()
        {
            using var trainer = new LocalTrainer(options, data, new LocalCheckpointStore(TestSupport.TemporaryDirectory()));
            trainer.Run(null, CancellationToken.None);
            return ParameterVector.Flatten(trainer.Model.parameters().ToList());
        }

        using var first = Train();
        using var second = Train();
        Assert.True(first.Equals(second));
    }

    [Fact]
    public void Resume_AfterCheckpoint_ContinuesToTheSameParametersAsOneRun()
    {
        var options = TestSupport.SmallTraining(steps: 6) with { CheckpointEvery = 3 };
        using var data = TrainingData.Create(TestSupport.BundledSections, options.ValidationSections, options.WeightMap);
        using var straight = new LocalTrainer(options, data, new LocalCheckpointStore(TestSupport.TemporaryDirectory()));
        straight.Run(null, CancellationToken.None);

        var folder = TestSupport.TemporaryDirectory();
        using (var firstHalf = new LocalTrainer(options with { Steps = 3 }, data, new LocalCheckpointStore(folder)))
        {
            firstHalf.Run(null, CancellationToken.None);
        }

        using var resumed = new LocalTrainer(options, data, new LocalCheckpointStore(folder));
        Assert.Equal(3, resumed.Resume());
        resumed.Run(null, CancellationToken.None);

        using var expected = ParameterVector.Flatten(straight.Model.parameters().ToList());
        using var actual = ParameterVector.Flatten(resumed.Model.parameters().ToList());
        Assert.True(actual.Equals(expected), $"max difference {(actual - expected).abs().max().item<float>()}");
    }

    [Fact]
    public void Run_CancelledBeforeTheFirstStep_StopsWithoutTraining()
    {
        var options = TestSupport.SmallTraining(steps: 5);
        using var data = TrainingData.Create(TestSupport.BundledSections, options.ValidationSections, options.WeightMap);
        var folder = TestSupport.TemporaryDirectory();
        using var trainer = new LocalTrainer(options, data, new LocalCheckpointStore(folder));
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        var outcome = trainer.Run(null, cancelled.Token);
        Assert.Equal(TrainingStop.Cancelled, outcome.Stop);
        Assert.Equal(0, outcome.Step);
        Assert.Null(outcome.Checkpoint);
    }

    [Fact]
    public void ValidationIndexes_24SectionsHold3_AreEvenlySpacedAndNeverTrained()
    {
        Assert.Equal(new[] { 7, 15, 23 }, TrainingData.ValidationIndexes(24, 3).Order());
        var options = TestSupport.SmallTraining();
        using var data = TrainingData.Create(TestSupport.BundledSections, 3, options.WeightMap);
        Assert.Equal(new[] { "slice-07", "slice-15", "slice-23" }, data.Validation.Select(s => s.Id));
        Assert.DoesNotContain(data.Training, t => data.Validation.Any(v => v.Id == t.Id));
        Assert.Equal(21, data.Training.Count);
    }

    [Fact]
    public void LearningRateAt_Cosine_DecaysFromTheRateToZero()
    {
        var options = TestSupport.SmallTraining() with { Schedule = LearningRateSchedule.Cosine };
        Assert.Equal(2e-3, options.LearningRateAt(0), 12);
        Assert.Equal(1e-3, options.LearningRateAt(0.5), 12);
        Assert.Equal(0, options.LearningRateAt(1), 12);
        Assert.Equal(2e-3, TestSupport.SmallTraining().LearningRateAt(0.9), 12);
    }

    [Fact]
    public void ScheduleProgress_RunOnPaceWithinItsBudget_FollowsItsStepsAlone()
    {
        // 5,000 steps in 14 minutes, finishing in 13.3 (95 % of the budget) after a 30 s start: however the pace varies
        // within that, every step's rate is the same as without a budget, so the same seed gives the same run.
        var options = TestSupport.SmallTraining() with { Steps = 5000, Minutes = 14.0 };
        var unbudgeted = options with { Minutes = null };
        foreach (var step in new long[] { 0, 1, 100, 500, 2500, 4000, 4999, 5000 })
        {
            var used = TimeSpan.FromSeconds(30) + (TimeSpan.FromMinutes(12.8) * step / 5000);
            Assert.Equal((double)step / 5000, options.ScheduleProgress(step, used), 12);
            Assert.Equal((double)step / 5000, unbudgeted.ScheduleProgress(step, used * 10), 12);
        }
    }

    [Fact]
    public void ScheduleProgress_RunTheBudgetWillStop_EndsItsScheduleWhenTheBudgetRunsOut()
    {
        // The same run at two thirds of the pace: the budget stops it near step 3,300, and the rate reaches 0 there.
        var options = TestSupport.SmallTraining() with { Steps = 5000, Minutes = 14.0, Schedule = LearningRateSchedule.Cosine };
        var previous = 0.0;
        for (var minute = 0.0; minute <= 14.0; minute += 0.5)
        {
            var step = (long)(5000 * minute / 14.0 / 1.5);
            var progress = options.ScheduleProgress(step, TimeSpan.FromMinutes(minute));
            Assert.True(progress >= previous, $"progress went back from {previous} to {progress} at minute {minute}");
            Assert.True(progress >= (double)step / 5000 - 1e-12, $"progress {progress} behind the steps at minute {minute}");
            previous = progress;
        }

        Assert.Equal(1.0, previous, 12);
        Assert.Equal(0, options.LearningRateAt(previous), 12);
        Assert.Equal((double)500 / 5000, options.ScheduleProgress(500, TimeSpan.FromMinutes(14.0 / 10 * 1.5)), 12);   // early on, still the steps
    }

    [Fact]
    public void Presets_Quick_IsTheDocumentedDefault()
    {
        var quick = Presets.Get(Presets.Default, seed: 42);
        Assert.Equal(16, quick.Model.BaseChannels);
        Assert.Equal(572, quick.TileSize);
        Assert.Equal(388, TileGeometry.OutputSize(quick.Model, quick.TileSize));
        Assert.True(quick.Minutes <= 4.5, "the default run must leave room for prediction inside 5 minutes");
        Assert.Equal(31_030_658, new UNet(Presets.Get("paper").Model).ParameterCount);
        Assert.Contains("quick", Assert.Throws<ArgumentException>(() => Presets.Get("nope")).Message, StringComparison.Ordinal);
    }

    private sealed class Recorder(Action<TrainingProgress> onReport) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => onReport(value);
    }
}
