using UNetCluster.Contracts.Jobs;
using UNetCluster.Contracts.Messages;
using UNetCluster.Training.Coordination;

namespace UNetCluster.Training.Tests.Coordination;

public sealed class StepStatisticsTests
{
    [Fact]
    public void Commit_ReportsOfWorkersOnOtherDevices_ListsEachWorkersDeviceAndPrecisionInWorkerOrder()
    {
        var reports = new[]
        {
            new StepReport("b", 1, 0, WorkerIndex: 1, Loss: 0.5, Samples: 1, 0, 0, TimeSpan.Zero, TimeSpan.Zero, Compute: "cuda:1 bf16"),
            new StepReport("a", 1, 0, WorkerIndex: 0, Loss: 0.7, Samples: 1, 0, 0, TimeSpan.Zero, TimeSpan.Zero, Compute: "cpu bf16"),
            new StepReport("c", 1, 0, WorkerIndex: 2, Loss: 0.6, Samples: 1, 0, 0, TimeSpan.Zero, TimeSpan.Zero),
        };

        var status = new StepStatistics().Commit(new JobStatus { Id = "j", Spec = new JobSpec() }, 1, 3, reports, ["a", "b", "c"], TimeSpan.FromSeconds(1), 0, 1);

        Assert.Equal(["cpu bf16", "cuda:1 bf16", "unknown"], status.WorkerCompute);
    }

    [Fact]
    public void Commit_ReportsWithTheirMemoryInUse_ListsEachWorkersMemoryInWorkerOrderBesideItsCompute()
    {
        const long gib = 1L << 30;
        var reports = new[]
        {
            new StepReport("b", 1, 0, WorkerIndex: 1, Loss: 0.5, Samples: 1, 0, 0, TimeSpan.Zero, TimeSpan.Zero, Compute: "cuda:1 bf16", MemoryBytes: 3 * gib),
            new StepReport("a", 1, 0, WorkerIndex: 0, Loss: 0.7, Samples: 1, 0, 0, TimeSpan.Zero, TimeSpan.Zero, Compute: "cpu bf16", MemoryBytes: gib),
            new StepReport("c", 1, 0, WorkerIndex: 2, Loss: 0.6, Samples: 1, 0, 0, TimeSpan.Zero, TimeSpan.Zero, Compute: "cpu fp32"),
        };
        var statistics = new StepStatistics();

        var status = statistics.Commit(new JobStatus { Id = "j", Spec = new JobSpec() }, 1, 3, reports, ["a", "b", "c"], TimeSpan.FromSeconds(1), 0, 1);

        Assert.Equal(["cpu bf16", "cuda:1 bf16", "cpu fp32"], status.WorkerCompute);
        Assert.Equal([gib, 3 * gib, 0L], status.WorkerMemoryBytes);   // worker c did not measure it: 0, in its place

        // The next step's reports replace the figures: the status shows the memory now, not the first step's.
        var next = statistics.Commit(status, 2, 3, [reports[1] with { Step = 2, MemoryBytes = 2 * gib }, reports[0] with { Step = 2 }, reports[2] with { Step = 2 }], ["a", "b", "c"], TimeSpan.FromSeconds(2), 0, 1);
        Assert.Equal([2 * gib, 3 * gib, 0L], next.WorkerMemoryBytes);
    }
}
