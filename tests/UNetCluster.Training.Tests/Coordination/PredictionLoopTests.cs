using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using UNetCluster.Contracts.Jobs;
using UNetCluster.Contracts.Messages;
using UNetCluster.Data.Storage;
using UNetCluster.Model.Checkpoints;
using UNetCluster.Training.Coordination;
using UNetCluster.Training.Jobs;
using UNetCluster.Training.Settings;

namespace UNetCluster.Training.Tests.Coordination;

/// <summary>
/// A prediction job's coordinator against scripted workers (the real units run in the silo and end-to-end tests): a
/// coordinator that takes a job over goes on from the done markers in storage, a lost worker's units go to the others,
/// pages too large for one block come back as blocks and an assembly, and the manifest lists every output.
/// </summary>
public sealed class PredictionLoopTests : IDisposable
{
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);
    private readonly string _root = Path.Combine(Path.GetTempPath(), "unetcluster-tests", "ploop-" + Guid.NewGuid().ToString("N"));
    private readonly JobRecordStore _records;
    private readonly FileBlobStore _blobs;

    public PredictionLoopTests()
    {
        _records = new JobRecordStore(new JobStorage(new StorageSettings { Root = _root }));
        _blobs = new FileBlobStore(_root);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task TakenOverJob_UnitsMarkedDoneByTheCoordinatorBefore_AreNotHandedOutAgainAndAreInTheManifest()
    {
        var lease = await JobAsync("ploop-resume", files: 4);
        // The coordinator before this one got two files done (their markers are in storage) and then died.
        foreach (var index in new[] { 0, 2 })
        {
            await MarkAsync("ploop-resume", Done(PredictionLayout.FileUnit(index), $"img{index}"));
        }

        var cluster = new ScriptedWorkers(_blobs, "ploop-resume", ["w1", "w2"]);
        await new PredictionLoop("ploop-resume", lease, cluster, _blobs, NullLogger.Instance).RunAsync();

        Assert.Equal(JobState.Completed, lease.Status!.State);
        Assert.Equal([PredictionLayout.FileUnit(1), PredictionLayout.FileUnit(3)], cluster.Started.Order(StringComparer.Ordinal));
        Assert.Equal(4, lease.Status.Prediction!.ImagesDone);
        var manifest = await ManifestAsync("ploop-resume");
        Assert.Equal(["img0.mask.png", "img1.mask.png", "img2.mask.png", "img3.mask.png"], manifest.Files.Select(f => f.Name));
        Assert.Empty(await _blobs.ListAsync(PredictionLayout.Work("ploop-resume"), TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task WorkerLeavesWithUnitsInFlight_TheyGoToTheOtherWorker_AndALargePageComesBackAsBlocksAndAnAssembly()
    {
        var lease = await JobAsync("ploop-lost", files: 3);
        var cluster = new ScriptedWorkers(_blobs, "ploop-lost", ["w1", "w2"])
        {
            Silent = "w2",                                     // takes units and never reports them
            SplitFile = PredictionLayout.FileUnit(1),          // file 1 is a page of 4 blocks
        };
        var loop = new PredictionLoop("ploop-lost", lease, cluster, _blobs, NullLogger.Instance);
        var run = loop.RunAsync();
        await ScriptedWorkers.WaitUntilAsync(() => cluster.Held("w2") > 0);
        cluster.Leave("w2");
        await run.WaitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken);

        Assert.Equal(JobState.Completed, lease.Status!.State);
        Assert.Equal(3, lease.Status.Prediction!.ImagesDone);
        Assert.Equal(3 + 4 + 1, lease.Status.Prediction.Units);
        Assert.True(lease.Status.Prediction.Reassigned >= 1, $"reassigned {lease.Status.Prediction.Reassigned}");
        Assert.Equal(["w1"], lease.Status.Workers);
        Assert.Contains(PredictionLayout.AssembleUnit(PredictionLayout.FileUnit(1), 0), cluster.Started);
        Assert.Equal(["img0.mask.png", "img1.mask.png", "img2.mask.png"], (await ManifestAsync("ploop-lost")).Files.Select(f => f.Name));
    }

    private async Task<JobLease> JobAsync(string id, int files)
    {
        for (var i = 0; i < files; i++)
        {
            await _blobs.WriteAsync($"in/{id}/img{i}.png", new byte[] { 1 }, BlobCondition.None, TestContext.Current.CancellationToken);
        }

        var spec = new JobSpec { Prediction = new PredictionSpec { Checkpoint = "ckpt", Prefix = $"in/{id}/", CheckpointSha256 = await CheckpointAsync() } };
        var now = DateTimeOffset.UtcNow;
        await _records.CreateAsync(new JobRecord(new JobStatus { Id = id, Spec = spec, Created = now, Updated = now }, string.Empty, 0), TestContext.Current.CancellationToken);
        var lease = new JobLease(id, "silo-a", _records, NullLogger.Instance);
        Assert.True(await lease.TryTakeOverAsync("a", TestContext.Current.CancellationToken));
        return lease;
    }

    /// <summary>A checkpoint manifest in storage (the loop reads its step and checks its sha256); returns that sha256.</summary>
    private async Task<string> CheckpointAsync()
    {
        var manifest = new CheckpointManifest(CheckpointManifest.CurrentFormat, 7, 1, new Model.UNetOptions(Depth: 2, BaseChannels: 8),
            new Model.Optimization.OptimizerOptions(Model.Optimization.OptimizerKind.Adam, 1e-3), null, new Dictionary<string, string>(), DateTimeOffset.UnixEpoch);
        var bytes = JsonSerializer.SerializeToUtf8Bytes(manifest, CheckpointManifest.JsonOptions);
        await _blobs.WriteAsync("ckpt/manifest.json", bytes, BlobCondition.None, TestContext.Current.CancellationToken);
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));
    }

    private static UnitReport Done(string unit, string stem) =>
        new(unit, [new OutputFile($"{stem}.mask.png", 1, "00")], Images: 1);

    private Task<string> MarkAsync(string job, UnitReport report) =>
        _blobs.WriteAsync(PredictionLayout.Marker(job, report.UnitId), JsonSerializer.SerializeToUtf8Bytes(report, Web),
            BlobCondition.IfAbsent, TestContext.Current.CancellationToken);

    private async Task<PredictionManifest> ManifestAsync(string job) =>
        JsonSerializer.Deserialize<PredictionManifest>((await _blobs.ReadAsync(PredictionLayout.Manifest(job), TestContext.Current.CancellationToken))!.Content, CheckpointManifest.JsonOptions)!;

    /// <summary>Workers that "run" each unit at once: a file's or an assembly's report names one mask; a split file comes back as a page of 4 blocks.</summary>
    private sealed class ScriptedWorkers(FileBlobStore blobs, string job, List<string> workers) : IPredictionCluster
    {
        private readonly Dictionary<string, List<UnitReport>> _reports = [];
        private readonly Dictionary<string, int> _held = [];

        public List<string> Started { get; } = [];

        public string? Silent { get; init; }

        public string? SplitFile { get; init; }

        public int Held(string worker)
        {
            lock (_held)
            {
                return _held.GetValueOrDefault(worker);
            }
        }

        public void Leave(string worker)
        {
            lock (workers)
            {
                workers.Remove(worker);
            }
        }

        public static async Task WaitUntilAsync(Func<bool> condition)
        {
            for (var i = 0; i < 600 && !condition(); i++)
            {
                await Task.Delay(50, TestContext.Current.CancellationToken);
            }

            Assert.True(condition());
        }

        public IReadOnlyList<string> LiveWorkers(int? limit)
        {
            lock (workers)
            {
                return [.. workers];
            }
        }

        public bool IsAlive(string key)
        {
            lock (workers)
            {
                return workers.Contains(key);
            }
        }

        public async Task StartUnitsAsync(string worker, PredictionPlan plan)
        {
            foreach (var unit in plan.Units)
            {
                lock (_held)
                {
                    _held[worker] = _held.GetValueOrDefault(worker) + 1;
                }

                if (worker == Silent)
                {
                    continue;
                }

                Started.Add(unit.Id);
                var stem = unit.Stem;
                var report = unit.Kind switch
                {
                    UnitKind.File when unit.Id == SplitFile => new UnitReport(unit.Id, [], Split: [new PageSize(0, 1000, 1000, 4)]),
                    UnitKind.Block => new UnitReport(unit.Id, []),
                    _ => Done(unit.Id, stem),
                };
                await blobs.WriteAsync(PredictionLayout.Marker(job, unit.Id), JsonSerializer.SerializeToUtf8Bytes(report, Web),
                    BlobCondition.IfAbsent);
                lock (_reports)
                {
                    (_reports.TryGetValue(worker, out var list) ? list : _reports[worker] = []).Add(report with { Worker = worker });
                }
            }
        }

        public Task<UnitReports> TakeUnitReportsAsync(string worker, string jobId)
        {
            lock (_reports)
            {
                var done = _reports.Remove(worker, out var list) ? list : [];
                return Task.FromResult(new UnitReports(done, 0));
            }
        }

        public Task ReleaseWorkerAsync(string worker, string jobId) => Task.CompletedTask;
    }
}
