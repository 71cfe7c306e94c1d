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
}
