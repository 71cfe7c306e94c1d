using System.Globalization;
using System.Security.Cryptography;
using Orleans.Runtime;
using UNetCluster.Contracts.Grains;
using UNetCluster.Contracts.Jobs;
using UNetCluster.Data.Storage;
using UNetCluster.Training.Jobs;

namespace UNetCluster.Silo.Grains;

/// <summary>
/// Validates and creates jobs, and lists them from their records (DESIGN.md's <c>jobs/{job}/record.json</c>). A refused
/// spec creates nothing. A job is created by writing its record only if it is absent; the job's coordinator owns the
/// record from then on. The registry holds no state of its own.
/// </summary>
public sealed class JobRegistryGrain(JobSpecValidator validator, PredictionSpecValidator predictions, JobRecordStore records, IClusterMembershipService membership) : Grain, IJobRegistryGrain
{
    public async Task<SubmitResult> SubmitAsync(JobSpec spec, string? jobId = null)
    {
        // Reading the data set's files to check them is I/O, kept off the grain's scheduler thread. The spec stored is
        // the checked one, its channels resolved from the data, so that every silo builds the same network.
        var (errors, checkedSpec) = spec?.Prediction is null
            ? await Task.Run(() => validator.Check(spec!, jobId)).ConfigureAwait(true)
            : await Task.Run(() => predictions.CheckAsync(spec, jobId)).ConfigureAwait(true);
        if (errors.Count > 0)
        {
            return new SubmitResult(null, errors);
        }

        spec = checkedSpec;

        var id = jobId ?? NewId();
        var now = DateTimeOffset.UtcNow;
        var record = new JobRecord(new JobStatus { Id = id, Spec = spec, State = JobState.Pending, Created = now, Updated = now }, Owner: string.Empty, Epoch: 0);
        try
        {
            await records.CreateAsync(record).ConfigureAwait(true);
        }
        catch (BlobConflictException)
        {
            // The id has a record. A finished job may be submitted again: it goes on from its latest checkpoint (this is
            // how 'unet train --resume' continues a run). So may a job whose coordinator's silo is gone and that nobody
            // took over yet. A running job may not.
            var stored = await records.ReadAsync(id).ConfigureAwait(true);
            if (stored is null)
            {
                return new SubmitResult(null, [$"job id '{id}' was being created by another submit; try again."]);
            }

            var existing = stored.Record.Status;
            var orphaned = !existing.IsFinished && !IsActive(existing.Coordinator);
            if (!existing.IsFinished && !orphaned)
            {
                return new SubmitResult(null, [$"job id '{id}' is taken by a job that is {existing.State.ToString().ToLowerInvariant()}."]);
            }

            if (existing.IsFinished)
            {
                var restarted = stored.Record with { Status = existing with { Spec = spec, State = JobState.Pending, Error = null, StopReason = null, Updated = now } };
                try
                {
                    await records.ReplaceAsync(restarted, stored.ETag).ConfigureAwait(true);
                }
                catch (BlobConflictException)
                {
                    return new SubmitResult(null, [$"job id '{id}' changed while it was being submitted again; try again."]);
                }
            }
        }

        // Activating the job's grain makes it take the record over and start.
        await GrainFactory.GetGrain<ITrainingJobGrain>(id).StartAsync(spec).ConfigureAwait(true);
        return new SubmitResult(id, []);
    }

    public async Task<IReadOnlyList<JobStatus>> ListAsync() =>
        (await records.ListAsync().ConfigureAwait(true)).Select(r => r.Status).ToList();

    public async Task<bool> ExistsAsync(string jobId) => await records.ReadAsync(jobId).ConfigureAwait(true) is not null;

    private bool IsActive(string? silo) =>
        silo is not null && membership.CurrentSnapshot.Members.Values.Any(m => m.Status == SiloStatus.Active && m.SiloAddress.ToParsableString() == silo);

    private static string NewId() =>
        string.Create(CultureInfo.InvariantCulture, $"job-{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(2))}");
}
