using System.Globalization;
using System.Text.Json;
using UNetCluster.Contracts.Jobs;
using UNetCluster.Data.DataSets;
using UNetCluster.Model.Checkpoints;
using UNetCluster.Model.Training;
using UNetCluster.Training.Checkpoints;

namespace UNetCluster.Client.Commands;

/// <summary>Where a training run came from, stored as <c>run.json</c> in its folder so that <c>--resume</c> can go on.</summary>
internal sealed record RunRecord(string Images, string Masks, string? Unlabelled, TrainingOptions Options, string Preset, JobSpec Spec)
{
    /// <summary>What the masks hold (<c>--mask-kind</c>); a resumed run reads them the same way.</summary>
    public MaskKind MaskKind { get; init; }
}

/// <summary>
/// A training run's folder: <c>run.json</c>, <c>checkpoints/</c> (see <see cref="LocalCheckpointStore"/>),
/// <c>predictions/validation</c>, <c>predictions/unlabelled</c> and <c>metrics.json</c>.
/// </summary>
internal sealed class RunDirectory
{
    public const string DefaultParent = "runs";
    private const string RecordFile = "run.json";

    public RunDirectory(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
    }

    public string Path { get; }

    public string CheckpointsPath => System.IO.Path.Combine(Path, "checkpoints");

    public string ValidationPredictions => System.IO.Path.Combine(Path, "predictions", "validation");

    public string UnlabelledPredictions => System.IO.Path.Combine(Path, "predictions", "unlabelled");

    public string MetricsPath => System.IO.Path.Combine(Path, "metrics.json");

    public bool HasCheckpoint => File.Exists(System.IO.Path.Combine(CheckpointsPath, LocalCheckpointStore.LatestPointer));

    /// <summary>A new folder under runs/ named by the time, for a run without --out.</summary>
    public static RunDirectory CreateDefault() =>
        new(System.IO.Path.Combine(DefaultParent, "train-" + DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)));

    /// <summary>The newest run under runs/ that has a checkpoint, for --resume without --out.</summary>
    public static RunDirectory? FindNewestResumable()
    {
        if (!Directory.Exists(DefaultParent))
        {
            return null;
        }

        return Directory.GetDirectories(DefaultParent)
            .Select(d => new RunDirectory(d))
            .Where(r => r.HasCheckpoint && File.Exists(System.IO.Path.Combine(r.Path, RecordFile)))
            .OrderByDescending(r => Directory.GetLastWriteTimeUtc(r.CheckpointsPath))
            .FirstOrDefault();
    }

    public void WriteRecord(RunRecord record)
    {
        Directory.CreateDirectory(Path);
        File.WriteAllText(System.IO.Path.Combine(Path, RecordFile), JsonSerializer.Serialize(record, CheckpointManifest.JsonOptions));
    }

    public RunRecord ReadRecord()
    {
        var file = System.IO.Path.Combine(Path, RecordFile);
        if (!File.Exists(file))
        {
            throw new UserInputException($"--out {Path} has no {RecordFile}: it is not a folder written by 'unet train'.");
        }

        try
        {
            return JsonSerializer.Deserialize<RunRecord>(File.ReadAllText(file), CheckpointManifest.JsonOptions)
                ?? throw new UserInputException($"{file} is empty.");
        }
        catch (JsonException e)
        {
            throw new UserInputException($"{file} is not a valid run record: {e.Message}", e);
        }
    }
}
