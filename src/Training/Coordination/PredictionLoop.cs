using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using UNetCluster.Contracts.Jobs;
using UNetCluster.Contracts.Messages;
using UNetCluster.Data.Imaging;
using UNetCluster.Data.Storage;
using UNetCluster.Model.Checkpoints;
using UNetCluster.Training.Jobs;

namespace UNetCluster.Training.Coordination;

/// <summary>
/// A prediction job's coordinator (issue 19). It cuts the input into units (<see cref="PredictionUnit"/>): every file
/// first; a page larger than one block of output tiles comes back from its worker as a page to cut, and becomes one
/// unit per block plus an assembly once its last block is in. It keeps every live worker two units deep (one running,
/// one queued behind it), so a worker that finishes early takes more, and a silo that joins takes units from the next
/// assignment. A worker that leaves, or whose calls fail, has its units handed to the others; each unit is written
/// once, however often it is handed out, because a unit is done once its marker is in storage and a worker reports
/// a marked unit from its marker (<see cref="Worker.UnitRunner"/>). A coordinator that takes the job over reads the
/// markers and goes on with the rest. An item the reader refuses is listed, and the job ends
/// <see cref="JobState.CompletedWithErrors"/>. Not thread-safe: the coordinator grain runs it in its context.
/// </summary>
public sealed partial class PredictionLoop : IJobLoop
{
    private const int Depth = 2;              // units queued on a worker at once
    private const int MaxAttempts = 3;        // a unit whose worker failed it this often fails the job
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly string _jobId;
    private readonly JobLease _lease;
    private readonly IPredictionCluster _cluster;
    private readonly IBlobStore _blobs;
    private readonly ILogger _logger;
    private readonly PredictionSpec _spec;
    private readonly LinkedList<PredictionUnit> _pending = new();
    private readonly Dictionary<string, List<PredictionUnit>> _outstanding = new(StringComparer.Ordinal);   // by worker
    private readonly Dictionary<string, UnitReport> _done = new(StringComparer.Ordinal);                  // by unit
    private readonly Dictionary<string, int> _attempts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _blocksLeft = new(StringComparer.Ordinal);                   // by assembly unit
    private readonly Dictionary<string, PredictionUnit> _assemblies = new(StringComparer.Ordinal);        // by assembly unit
    private readonly List<string> _errors = [];
    private readonly SortedSet<string> _workers = new(StringComparer.Ordinal);                            // that did units of this run
    private readonly Stopwatch _clock = new();
    private int _units;
    private int _images;
    private int _imagesAtStart;
    private int _reassigned;
    private bool _cancelRequested;
    private TaskCompletionSource _signal = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public PredictionLoop(string jobId, JobLease lease, IPredictionCluster cluster, IBlobStore blobs, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(lease);
        _jobId = jobId;
        _lease = lease;
        _cluster = cluster;
        _blobs = blobs;
        _logger = logger;
        _spec = lease.Status!.Spec.Prediction ?? throw new ArgumentException($"job '{jobId}' is not a prediction job.", nameof(lease));
        _lease.FencedOff += () => _signal.TrySetResult();
    }

    private JobStatus Status
    {
        get => _lease.Status!;
        set => _lease.Status = value;
    }

    public void Cancel()
    {
        _cancelRequested = true;
        _signal.TrySetResult();
    }

    public async Task RunAsync()
    {
        try
        {
            var stop = await PredictAsync();
            if (stop.Length == 0)
            {
                return;   // fenced: another coordinator goes on from the markers
            }

            Status = Status with
            {
                State = stop == "cancelled" ? JobState.Cancelled : _errors.Count > 0 ? JobState.CompletedWithErrors : JobState.Completed,
                StopReason = stop,
                Elapsed = _clock.Elapsed,
            };
        }
        catch (Exception e)
        {
            LogFailed(_jobId, e);
            Status = Status with { State = JobState.Failed, Error = e.Message, StopReason = "failed" };
        }

        if (_lease.Fenced)
        {
            return;
        }

        foreach (var worker in _outstanding.Keys.ToList())
        {
            try
            {
                await _cluster.ReleaseWorkerAsync(worker, _jobId).WaitAsync(CallTimeout);
            }
            catch (Exception e) when (IsCallFailure(e))
            {
                LogReleaseFailed(_jobId, worker, e);
            }
        }

        await _lease.PublishFinalAsync();
    }

    /// <summary>Predicts until every unit is done; why it stopped, or "" when fenced.</summary>
    private async Task<string> PredictAsync()
    {
        _clock.Start();
        var checkpoint = await CheckpointAsync();
        var files = await PlanAsync();
        await ResumeAsync(files);
        _imagesAtStart = _images;
        Publish(checkpoint);
        await _lease.PublishAsync(force: true);
        var started = false;
        while (true)
        {
            if (_lease.Fenced)
            {
                return string.Empty;
            }

            if (_cancelRequested)
            {
                return "cancelled";
            }

            var workers = _cluster.LiveWorkers(_spec.Workers);
            var needed = started ? 1 : _spec.Workers ?? 1;
            if (workers.Count < needed)
            {
                Status = Status with { Waiting = $"waiting for {needed} worker{(needed == 1 ? "" : "s")}, {workers.Count} live" };
                await _lease.PublishAsync(force: false);
                await WaitAsync(TimeSpan.FromSeconds(1));
                continue;
            }

            started = true;
            await CollectAsync();
            if (_pending.Count == 0 && _outstanding.Values.All(u => u.Count == 0))
            {
                break;
            }

            await AssignAsync(workers);
            Publish(checkpoint);
            await _lease.PublishAsync(force: false);
            await WaitAsync(Poll);
        }

        var written = await WriteManifestAsync(checkpoint);
        Publish(checkpoint);
        Status = Status with { Prediction = Status.Prediction! with { OutputFiles = written } };
        await DeleteWorkAsync();
        return _errors.Count > 0 ? $"{_images} image(s) predicted, {_errors.Count} item(s) failed" : "all images predicted";
    }

    /// <summary>The checkpoint the job was accepted with, checked to be unchanged; its location and step, for people.</summary>
    private async Task<string> CheckpointAsync()
    {
        var folder = _spec.Checkpoint ?? throw new InvalidOperationException("The job names no checkpoint folder.");
        var name = BlobNames.Combine(folder, CheckpointManifest.FileName);
        var stored = await _blobs.ReadAsync(name) ?? throw new InvalidOperationException($"Checkpoint {_blobs.Describe(folder)} is gone: it has no {CheckpointManifest.FileName}.");
        var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(stored.Content));
        if (sha != _spec.CheckpointSha256)
        {
            throw new InvalidOperationException(
                $"Checkpoint {_blobs.Describe(folder)} changed since the job was accepted (its manifest's sha256 is {sha}, the job's {_spec.CheckpointSha256}).");
        }

        var manifest = JsonSerializer.Deserialize<CheckpointManifest>(stored.Content, CheckpointManifest.JsonOptions)!;
        return $"{_blobs.Describe(folder)} (step {manifest.Step})";
    }

    /// <summary>The input files in name order, one unit each; files whose outputs would collide are listed as errors.</summary>
    private async Task<List<PredictionUnit>> PlanAsync()
    {
        var inputs = new List<(string Blob, string Stem, long? Bytes, string? Sha)>();
        if (_spec.DataSet is { } name)
        {
            var manifest = await new DataSetStore(_blobs).GetAsync(name)
                ?? throw new InvalidOperationException($"Data set '{name}' is not in the cluster's storage any more.");
            inputs.AddRange(manifest.Items.OrderBy(i => i.Id, StringComparer.Ordinal).Select(i => (i.Image.Blob, i.Id, (long?)i.Image.Bytes, (string?)i.Image.Sha256)));
        }
        else
        {
            var listed = await _blobs.ListAsync(_spec.Prefix!);
            inputs.AddRange(listed.Where(b => ImageReader.IsSupported(b.Name)).Select(b => (b.Name, Path.GetFileNameWithoutExtension(b.Name[(b.Name.LastIndexOf('/') + 1)..]), (long?)null, (string?)null)));
        }

        var units = new List<PredictionUnit>();
        var stems = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < inputs.Count; i++)
        {
            var (blob, stem, bytes, sha) = inputs[i];
            if (!stems.TryAdd(stem, blob))
            {
                _errors.Add($"{_blobs.Describe(blob)}: its outputs would replace those of {_blobs.Describe(stems[stem])} ({stem}.*.png); not predicted (rename one of them).");
                continue;
            }

            units.Add(new PredictionUnit(PredictionLayout.FileUnit(i), UnitKind.File, blob, stem, bytes, sha));
        }

        if (units.Count == 0)
        {
            throw new InvalidOperationException($"The job's input ({_spec.DescribeInput()}) holds no image to predict any more.");
        }

        Status = Status with { Prediction = new PredictionProgress { Files = inputs.Count, Outputs = _blobs.Describe(PredictionLayout.Outputs(_jobId)) } };
        return units;
    }

    /// <summary>Reads the units already done (a coordinator before this one handed them out) and queues the rest.</summary>
    private async Task ResumeAsync(List<PredictionUnit> files)
    {
        foreach (var marker in await _blobs.ListAsync(PredictionLayout.Markers(_jobId)))
        {
            if (await _blobs.ReadAsync(marker.Name) is { } stored && JsonSerializer.Deserialize<UnitReport>(stored.Content, Json) is { } report)
            {
                _done[report.UnitId] = report;
            }
        }

        foreach (var file in files)
        {
            _units++;
            if (_done.TryGetValue(file.Id, out var report))
            {
                Account(file, report);
            }
            else
            {
                _pending.AddLast(file);
            }
        }
    }

    /// <summary>Takes a done unit into the job: its outputs, its error, the blocks of its large pages, a page ready to assemble.</summary>
    private void Account(PredictionUnit unit, UnitReport report)
    {
        _done[unit.Id] = report;
        _images += report.Images;
        if (report.Error is not null)
        {
            _errors.Add(report.Error);
            if (unit.Kind == UnitKind.Block)
            {
                // The page cannot be assembled: its other blocks are not worth computing.
                var assembly = PredictionLayout.AssembleUnit(FileOf(unit), unit.Page);
                _assemblies.Remove(assembly);
                _blocksLeft.Remove(assembly);
                RemovePending(u => u.Kind == UnitKind.Block && FileOf(u) == FileOf(unit) && u.Page == unit.Page);
            }

            return;
        }

        foreach (var page in report.Split ?? [])
        {
            var assembly = new PredictionUnit(PredictionLayout.AssembleUnit(unit.Id, page.Page), UnitKind.Assemble, unit.Blob, unit.Stem, unit.Bytes, unit.Sha256, page.Page, 0, page.Blocks);
            _units += page.Blocks + 1;
            if (_done.TryGetValue(assembly.Id, out var assembled))
            {
                Account(assembly, assembled);   // assembled before a takeover: its blocks are done too
                continue;
            }

            _assemblies[assembly.Id] = assembly;
            _blocksLeft[assembly.Id] = page.Blocks;
            for (var k = 0; k < page.Blocks; k++)
            {
                var block = new PredictionUnit(PredictionLayout.BlockUnit(unit.Id, page.Page, k), UnitKind.Block, unit.Blob, unit.Stem, unit.Bytes, unit.Sha256, page.Page, k, page.Blocks);
                if (_done.TryGetValue(block.Id, out var blockReport))
                {
                    Account(block, blockReport);
                }
                else
                {
                    _pending.AddLast(block);
                }
            }

        }

        if (unit.Kind == UnitKind.Block)
        {
            var assembly = PredictionLayout.AssembleUnit(FileOf(unit), unit.Page);
            if (_blocksLeft.TryGetValue(assembly, out var left))
            {
                _blocksLeft[assembly] = left - 1;
                if (left == 1 && _assemblies.Remove(assembly, out var ready))
                {
                    _pending.AddFirst(ready);
                }
            }
        }
    }

    /// <summary>Collects every worker's finished units; the units of a worker that left or does not answer go back to the queue.</summary>
    private async Task CollectAsync()
    {
        foreach (var (worker, units) in _outstanding.Where(o => o.Value.Count > 0).ToList())
        {
            UnitReports reports;
            try
            {
                if (!_cluster.IsAlive(worker))
                {
                    throw new InvalidOperationException($"worker {worker} left the cluster");
                }

                reports = await _cluster.TakeUnitReportsAsync(worker, _jobId).WaitAsync(CallTimeout);
            }
            catch (Exception e) when (IsCallFailure(e))
            {
                LogWorkerLost(_jobId, worker, units.Count, e.Message);
                _reassigned += units.Count;
                foreach (var unit in Enumerable.Reverse(units))
                {
                    _pending.AddFirst(unit);
                }

                units.Clear();
                continue;
            }

            foreach (var report in reports.Done)
            {
                var unit = units.FirstOrDefault(u => u.Id == report.UnitId);
                if (unit is null || !units.Remove(unit) || _done.ContainsKey(unit.Id))
                {
                    continue;   // not this worker's any more, or done by another worker it was handed to as well
                }

                if (report.Retry)
                {
                    var attempts = _attempts[unit.Id] = _attempts.GetValueOrDefault(unit.Id) + 1;
                    if (attempts >= MaxAttempts)
                    {
                        throw new InvalidOperationException($"Unit {unit.Id} ({_blobs.Describe(unit.Blob)}) failed {attempts} times; the last error: {report.Error}");
                    }

                    LogUnitRetried(_jobId, unit.Id, worker, report.Error ?? "");
                    _pending.AddLast(unit);
                    continue;
                }

                if (report.Worker is { } by)
                {
                    _workers.Add(by);
                }

                Account(unit, report);
            }
        }
    }

    /// <summary>Tops every live worker up to <see cref="Depth"/> units.</summary>
    private async Task AssignAsync(IReadOnlyList<string> workers)
    {
        foreach (var worker in workers)
        {
            var units = _outstanding.TryGetValue(worker, out var held) ? held : _outstanding[worker] = [];
            while (units.Count < Depth && _pending.First is { } next)
            {
                _pending.RemoveFirst();
                units.Add(next.Value);
                try
                {
                    await _cluster.StartUnitsAsync(worker, new PredictionPlan(_jobId, _spec, _spec.CheckpointSha256!, [next.Value])).WaitAsync(CallTimeout);
                }
                catch (Exception e) when (IsCallFailure(e))
                {
                    // Collected as lost at the next round, with the worker's other units.
                    LogWorkerLost(_jobId, worker, units.Count, e.Message);
                    break;
                }
            }
        }
    }

    private void Publish(string checkpoint)
    {
        var done = _done.Count(d => !d.Value.Retry);
        var seconds = _clock.Elapsed.TotalSeconds;
        Status = Status with
        {
            State = JobState.Running,
            Waiting = null,
            Step = done,
            Steps = _units,
            Elapsed = _clock.Elapsed,
            Workers = [.. _workers],
            Prediction = (Status.Prediction ?? new PredictionProgress()) with
            {
                ImagesDone = _images,
                Units = _units,
                UnitsDone = done,
                ImagesPerSecond = seconds > 0 ? (_images - _imagesAtStart) / seconds : 0,
                Errors = [.. _errors],
                Checkpoint = checkpoint,
                Reassigned = _reassigned,
            },
        };
    }

    /// <summary>Writes <c>manifest.json</c>: every output with its size and sha256, the checkpoint, the options and the item errors.</summary>
    private async Task<int> WriteManifestAsync(string checkpoint)
    {
        var files = _done.Values.Where(r => r.Error is null).SelectMany(r => r.Files).OrderBy(f => f.Name, StringComparer.Ordinal).ToList();
        var manifest = new PredictionManifest(
            PredictionLayout.ManifestFormat, _jobId, DateTimeOffset.UtcNow, _spec.Checkpoint!, _spec.CheckpointSha256!, checkpoint, _spec, _images, files, [.. _errors]);
        await _blobs.WriteAsync(PredictionLayout.Manifest(_jobId), JsonSerializer.SerializeToUtf8Bytes(manifest, CheckpointManifest.JsonOptions), BlobCondition.None);
        return files.Count;
    }

    /// <summary>The markers and leftover block maps go once the manifest is written (a failed delete only leaves clutter).</summary>
    private async Task DeleteWorkAsync()
    {
        try
        {
            foreach (var blob in await _blobs.ListAsync(PredictionLayout.Work(_jobId)))
            {
                await _blobs.DeleteAsync(blob.Name);
            }
        }
        catch (Exception e) when (e is IOException or Azure.RequestFailedException)
        {
            LogCleanupFailed(_jobId, e);
        }
    }

    private void RemovePending(Func<PredictionUnit, bool> predicate)
    {
        for (var node = _pending.First; node is not null;)
        {
            var next = node.Next;
            if (predicate(node.Value))
            {
                _pending.Remove(node);
            }

            node = next;
        }
    }

    private static string FileOf(PredictionUnit unit) => PredictionLayout.FileUnitOf(unit.Id);

    private async Task WaitAsync(TimeSpan timeout)
    {
        await Task.WhenAny(_signal.Task, Task.Delay(timeout));
        if (_signal.Task.IsCompleted)
        {
            _signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    private static bool IsCallFailure(Exception e) =>
        e is OrleansException or TimeoutException or InvalidOperationException or IOException or OperationCanceledException or KeyNotFoundException;

    [LoggerMessage(Level = LogLevel.Error, Message = "Prediction job {JobId} failed")]
    private partial void LogFailed(string jobId, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Prediction job {JobId}: worker {Worker} is lost; its {Units} unit(s) go to the other workers ({Why})")]
    private partial void LogWorkerLost(string jobId, string worker, int units, string why);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Prediction job {JobId}: unit {Unit} failed on {Worker} and is handed out again: {Error}")]
    private partial void LogUnitRetried(string jobId, string unit, string worker, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Prediction job {JobId}: releasing worker {Worker} failed")]
    private partial void LogReleaseFailed(string jobId, string worker, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Prediction job {JobId}: deleting its work files failed")]
    private partial void LogCleanupFailed(string jobId, Exception exception);
}

/// <summary>
/// <c>predictions/{job}/manifest.json</c>: what a prediction job wrote (every file with its size and sha256), with which
/// checkpoint (its folder and the sha256 of its manifest) and options, and the items it could not predict.
/// </summary>
public sealed record PredictionManifest(
    string Format, string Job, DateTimeOffset CreatedUtc, string Checkpoint, string CheckpointSha256, string CheckpointDescription,
    PredictionSpec Options, int Images, IReadOnlyList<OutputFile> Files, IReadOnlyList<string> Errors);
