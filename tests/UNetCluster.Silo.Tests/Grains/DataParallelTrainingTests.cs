using Microsoft.Extensions.DependencyInjection;
using UNetCluster.Contracts.Jobs;
using UNetCluster.Contracts.Messages;
using UNetCluster.Data.DataSets;
using UNetCluster.Model.Checkpoints;
using UNetCluster.Model.Optimization;
using UNetCluster.Model.Training;
using UNetCluster.Training.Checkpoints;
using UNetCluster.Training.Jobs;
using UNetCluster.Training.Local;
using UNetCluster.Training.Worker;
using static TorchSharp.torch;

namespace UNetCluster.Silo.Tests.Grains;

/// <summary>
/// DESIGN.md's correctness bar on a real (in-process) Orleans cluster: W workers with b tiles each give, after k
/// steps, the parameters of one process stepping on the union of their tiles; a repeated run is bit-identical.
/// </summary>
[Collection(ClusterTests.Name)]
public sealed class DataParallelTrainingTests(ClusterFixture fixture)
{
    private const int Steps = 3;

    [Theory]
    [InlineData(2, 1)]
    [InlineData(3, 1)]
    [InlineData(2, 2)]
    public async Task Train_WorkersWithTilesEach_EqualOneProcessOnTheUnion(int workers, int tilesEach)
    {
        var spec = Spec(workers, tilesEach);
        var status = await fixture.RunAsync(spec, $"union-{workers}x{tilesEach}");

        Assert.Equal(JobState.Completed, status.State);
        Assert.Equal(Steps, status.Step);
        Assert.Equal(workers, status.Workers.Count);
        using var distributed = FinalParameters(status.Id);
        using var expected = OneProcess(JobOptions.Build(spec));
        Assert.True(distributed.allclose(expected, rtol: 1e-4, atol: 1e-6), $"max difference {(distributed - expected).abs().max().item<float>()}");
    }

    [Fact]
    public async Task Train_RepeatedRun_GivesBitIdenticalParameters()
    {
        var spec = Spec(workers: 3, tilesEach: 1);
        await fixture.RunAsync(spec, "repeat-a");
        await fixture.RunAsync(spec, "repeat-b");
        using var first = FinalParameters("repeat-a");
        using var second = FinalParameters("repeat-b");
        Assert.True(first.Equals(second), $"max difference {(first - second).abs().max().item<float>()}");
    }

    [Fact]
    public async Task Train_Status_CountsEveryStepOnceAndReportsTraffic()
    {
        var status = await fixture.RunAsync(Spec(workers: 2, tilesEach: 1) with { Steps = 4, CheckpointEvery = 2 }, "counted");
        Assert.Equal(4, status.Step);
        Assert.Equal(0, status.RecomputedSteps);
        Assert.Equal(4, status.CheckpointStep);
        Assert.True(status.Loss is > 0 and < 10, $"loss {status.Loss}");
        // Each worker sends its gradient once and receives the parameters once: twice the model's bytes per step.
        Assert.Equal(2 * status.Parameters * sizeof(float), status.BytesPerWorkerStep);
        var listed = await fixture.Registry.ListAsync();
        Assert.Contains(listed, j => j.Id == "counted" && j.State == JobState.Completed && j.Step == 4);
    }

    [Fact]
    public async Task Train_Bf16_HalvesTheWireBytesEqualsOneBf16ProcessAndCheckpointsTheFp32Masters()
    {
        var spec = Spec(workers: 2, tilesEach: 1) with { Precision = "bf16", ValidateEvery = 3 };
        var status = await fixture.RunAsync(spec, "bf16-wire");
        await fixture.RunAsync(spec, "bf16-wire-again");

        Assert.Equal(JobState.Completed, status.State);
        Assert.All(status.WorkerCompute, c => Assert.Equal("cpu bf16", c));
        // The gradient sent and the parameters pulled as bf16: half of the fp32 run's 2 x 4 bytes per parameter.
        Assert.Equal(2 * status.Parameters * 2, status.BytesPerWorkerStep);
        Assert.Equal(Steps, status.BestValidation!.Step);                        // validated (from the fp32 masters) and marked
        using var distributed = FinalParameters(status.Id);
        using var again = FinalParameters("bf16-wire-again");
        Assert.True(distributed.Equals(again), "two bf16 runs are bit-identical");
        using var rounded = distributed.to(ScalarType.BFloat16).to(ScalarType.Float32);
        Assert.False(distributed.Equals(rounded), "the checkpoint holds the reducers' fp32 masters, not their bf16 rounding");

        // One process on the union of the tiles, in bf16: each side rounds its gradient to bf16 over different tiles
        // (two of one tile against one of two), so the updates agree to bf16's precision, not bit for bit.
        using var initial = InitialParameters(JobOptions.Build(spec));
        using var expected = OneProcess(JobOptions.Build(spec));
        using var ours = distributed - initial;
        using var theirs = expected - initial;
        var relative = (ours - theirs).norm().item<float>() / theirs.norm().item<float>();
        TestContext.Current.TestOutputHelper?.WriteLine($"||update(2 workers x 1 tile) - update(1 x 2 tiles)|| / ||update|| in bf16 after {Steps} steps = {relative:F5}");
        Assert.True(relative < 0.05, $"relative difference of the updates {relative:F4}");
    }

    [Fact]
    public async Task Train_AWorkerSendsANaNGradientOnce_IsRefusedRecomputedAndEndsBitIdenticalToAFaultFreeRun()
    {
        // The seam poisons worker 1's gradient messages of step 2's first attempt after the worker's own check, as a
        // corrupted message would arrive: the reducers refuse them, the worker reports it, the step is recomputed.
        var spec = Spec(workers: 2, tilesEach: 1) with { Steps = 4 };
        var faults = Enumerable.Range(0, ClusterFixture.Silos).Select(fixture.Services).Select(s => s.GetRequiredService<WorkerFaults>()).ToList();
        var poisonedAttempt = -1;
        bool Poison(StepPlan plan) =>
            plan is { JobId: "poisoned", Step: 2, WorkerIndex: 1 } && (Interlocked.CompareExchange(ref poisonedAttempt, plan.Attempt, -1) is var first && (first == -1 || first == plan.Attempt));
        faults.ForEach(f => f.PoisonGradient = Poison);
        JobStatus status;
        try
        {
            status = await fixture.RunAsync(spec, "poisoned");
        }
        finally
        {
            faults.ForEach(f => f.PoisonGradient = null);
        }

        await fixture.RunAsync(spec, "poison-free");

        Assert.Equal(JobState.Completed, status.State);
        Assert.Equal(4, status.Step);
        Assert.Equal(1, status.RecomputedSteps);
        Assert.Equal(0, status.Restores);
        Assert.StartsWith("step 2: worker ", status.LastRecompute, StringComparison.Ordinal);
        Assert.Contains("(tiles 1) failed", status.LastRecompute, StringComparison.Ordinal);
        Assert.Contains("refused a bucket of step 2 as not finite", status.LastRecompute, StringComparison.Ordinal);
        using var faulted = FinalParameters("poisoned");
        using var clean = FinalParameters("poison-free");
        Assert.True(faulted.Equals(clean), $"max difference {(faulted - clean).abs().max().item<float>()}");
    }

    private static JobSpec Spec(int workers, int tilesEach) => new()
    {
        Preset = "tiny",
        Seed = 11,
        Steps = Steps,
        BatchSize = workers * tilesEach,
        Workers = workers,
        Reducers = 2,
        BucketKiB = 64,
        CheckpointEvery = 100,
    };

    private Tensor FinalParameters(string jobId)
    {
        var store = CheckpointStore.ForJob(new UNetCluster.Data.Storage.FileBlobStore(fixture.StorageRoot), jobId);
        using var checkpoint = store.LoadLatest() ?? throw new InvalidOperationException($"job {jobId} wrote no checkpoint");
        using var model = LocalCheckpointStore.CreateModel(checkpoint);
        return ParameterVector.Flatten(model.parameters().ToList());
    }

    private static Tensor InitialParameters(TrainingOptions options)
    {
        // The engine seeds and builds the master weights as every replica does (under its lock on the process's RNG).
        var section = DataSetLoader.LoadLabelled(BundledData.ImagesDirectory, BundledData.MasksDirectory).Sections[0];
        using var tensors = TrainingData.Tensors(section, options.WeightMap);
        using var engine = new GradientEngine(options, [tensors]);
        return engine.FlattenParameters();
    }

    private static Tensor OneProcess(TrainingOptions options)
    {
        var dataSet = DataSetLoader.LoadLabelled(BundledData.ImagesDirectory, BundledData.MasksDirectory);
        using var data = TrainingData.Create(dataSet, options.ValidationSections, options.WeightMap);
        var folder = Path.Combine(Path.GetTempPath(), "unetcluster-tests", Guid.NewGuid().ToString("N"));
        using var trainer = new LocalTrainer(options, data, new LocalCheckpointStore(folder));
        trainer.Run(null, TestContext.Current.CancellationToken);
        return ParameterVector.Flatten(trainer.Model.parameters().ToList());
    }
}
