using System.Text.Json;
using System.Text.Json.Serialization;
using UNetCluster.Contracts.Jobs;
using UNetCluster.Data.Storage;

namespace UNetCluster.Training.Jobs;

/// <summary>
/// A job's record, <c>jobs/{job}/record.json</c>: its last published status (spec, state, step, workers) and the
/// coordinator activation that owns it. <see cref="Epoch"/> grows each time a coordinator takes the job over.
/// </summary>
public sealed record JobRecord(JobStatus Status, string Owner, long Epoch);

/// <summary>A record as read, with the ETag its next write must match.</summary>
public sealed record StoredJobRecord(JobRecord Record, string ETag);

/// <summary>
/// Job records in the cluster's blob store, written with ETag conditions (DESIGN.md): a job is created only if its
/// record is absent, and a coordinator writes only over the record it last read or wrote, so two coordinators of one
/// job (a split membership view, a re-activation racing a dying one) cannot both go on: the second write fails.
/// </summary>
public sealed class JobRecordStore(JobStorage storage)
{
    private const string JobsPrefix = "jobs/";
    private const string RecordFile = "record.json";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
    };

    public static string RecordName(string jobId) => FileOf(jobId, RecordFile);

    /// <summary>A file beside the job's record, in its folder <c>jobs/{job}/</c> (its history, its report).</summary>
    public static string FileOf(string jobId, string file) => $"{JobsPrefix}{jobId}/{file}";

    public async Task<StoredJobRecord?> ReadAsync(string jobId, CancellationToken cancellationToken = default)
    {
        var content = await storage.Blobs.ReadAsync(RecordName(jobId), cancellationToken).ConfigureAwait(false);
        return content is null ? null : new StoredJobRecord(Parse(jobId, content.Content), content.ETag);
    }

    /// <summary>Creates a job's record; throws <see cref="BlobConflictException"/> when the id is taken.</summary>
    public Task<string> CreateAsync(JobRecord record, CancellationToken cancellationToken = default) =>
        storage.Blobs.WriteAsync(RecordName(record.Status.Id), Serialize(record), BlobCondition.IfAbsent, cancellationToken);

    /// <summary>Replaces a record if it is still the one with <paramref name="etag"/>; throws <see cref="BlobConflictException"/> otherwise.</summary>
    public Task<string> ReplaceAsync(JobRecord record, string etag, CancellationToken cancellationToken = default) =>
        storage.Blobs.WriteAsync(RecordName(record.Status.Id), Serialize(record), BlobCondition.IfMatch(etag), cancellationToken);

    /// <summary>Every job's record, oldest first. A record that cannot be read is skipped (it is reported by the job itself).</summary>
    public async Task<IReadOnlyList<JobRecord>> ListAsync(CancellationToken cancellationToken = default)
    {
        var items = await storage.Blobs.ListAsync(JobsPrefix, cancellationToken).ConfigureAwait(false);
        var records = new List<JobRecord>();
        foreach (var item in items.Where(i => i.Name.EndsWith("/" + RecordFile, StringComparison.Ordinal) && i.Name.Count(c => c == '/') == 2))
        {
            var jobId = item.Name[JobsPrefix.Length..^(RecordFile.Length + 1)];
            try
            {
                if (await ReadAsync(jobId, cancellationToken).ConfigureAwait(false) is { } stored)
                {
                    records.Add(stored.Record);
                }
            }
            catch (InvalidDataException)
            {
                // A damaged record is not listed; reading the job itself reports it.
            }
        }

        return records.OrderBy(r => r.Status.Created).ToList();
    }

    private static byte[] Serialize(JobRecord record) => JsonSerializer.SerializeToUtf8Bytes(record, Json);

    private static JobRecord Parse(string jobId, byte[] content)
    {
        try
        {
            return JsonSerializer.Deserialize<JobRecord>(content, Json) ?? throw new InvalidDataException($"The record of job '{jobId}' is empty.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"The record of job '{jobId}' ({RecordName(jobId)}) is not valid JSON: {e.Message}", e);
        }
    }
}
