using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using UNetCluster.Client.Cluster;
using UNetCluster.Client.Display;
using UNetCluster.Client.Output;
using UNetCluster.Contracts.Grains;
using UNetCluster.Contracts.Jobs;
using UNetCluster.Model;
using UNetCluster.Model.Checkpoints;
using UNetCluster.Model.Training;
using UNetCluster.Training.Jobs;

namespace UNetCluster.Client.Commands;

/// <summary>
/// The verbs that work against a running cluster: <c>submit</c>, <c>status</c>, <c>watch</c>, <c>list</c>,
/// <c>cancel</c> and <c>silos</c>. The cluster is found through its gateway (<c>--gateway</c>, default
/// 127.0.0.1:30000) or Redis membership (<c>--redis</c>), or over a silo's REST API (<c>--api URL</c>, the token in
/// UNET_API_TOKEN), or the environment variables UNET_GATEWAY, UNET_REDIS, UNET_API and UNET_CLUSTER_ID.
/// </summary>
internal static class JobCommands
{
    public static IEnumerable<Command> Create(TextWriter output, TextWriter error)
    {
        yield return Submit(output, error);
        yield return Status(output, error);
        yield return Watch(output, error);
        yield return List(output, error);
        yield return Cancel(output, error);
        yield return Silos(output, error);
        yield return ReportCommand.Create(output, error);
    }

    internal sealed class Connection
    {
        public Option<string?> Gateway { get; } = new("--gateway") { Description = $"Gateway of the cluster as address:port (default: UNET_GATEWAY or {ClusterAddress.DefaultGateway})." };

        public Option<string?> Redis { get; } = new("--redis") { Description = "Redis connection string of the cluster's membership (default: UNET_REDIS); overrides --gateway." };

        public Option<string?> AzureTable { get; } = new("--azure-table")
        {
            Description = "The cluster's Azure Table membership (default: UNET_AZURE_TABLE): the storage account's connection string, or its table service URI " +
                "(https://<account>.table.core.windows.net, reached by Azure AD identity); overrides --gateway and --redis.",
        };

        public Option<string?> ClusterId { get; } = new("--cluster-id") { Description = "The cluster's id (default: UNET_CLUSTER_ID or unetcluster)." };

        public Option<string?> Api { get; } = new("--api")
        {
            Description = "URL of a silo's REST API, e.g. http://127.0.0.1:8080 (default: UNET_API): reach the cluster over HTTP from outside it " +
                $"instead of through its gateway; submitting and cancelling send the bearer token in {RestJobClient.TokenVariable}.",
            HelpName = "URL",
        };

        public void AddTo(Command command)
        {
            command.Options.Add(Gateway);
            command.Options.Add(Redis);
            command.Options.Add(AzureTable);
            command.Options.Add(ClusterId);
            command.Options.Add(Api);
        }

        public ClusterAddress Address(ParseResult parse) => new(
            parse.GetValue(Gateway) ?? Environment.GetEnvironmentVariable("UNET_GATEWAY"),
            parse.GetValue(Redis) ?? Environment.GetEnvironmentVariable("UNET_REDIS"),
            parse.GetValue(ClusterId) ?? Environment.GetEnvironmentVariable("UNET_CLUSTER_ID") ?? "unetcluster")
        {
            AzureTable = parse.GetValue(AzureTable) ?? Environment.GetEnvironmentVariable("UNET_AZURE_TABLE"),
            AzureTableName = Environment.GetEnvironmentVariable("UNET_AZURE_TABLE_NAME") ?? ClusterAddress.DefaultAzureTableName,
        };

        /// <summary>
        /// The cluster the options name: over its REST API with <c>--api</c> (or UNET_API when none of --gateway, --redis
        /// and --azure-table is given), else as an Orleans client. A cluster that does not answer is a <see cref="ClusterUnreachableException"/>.
        /// </summary>
        public async Task<IJobClient> OpenAsync(ParseResult parse, CancellationToken cancellationToken)
        {
            var api = parse.GetValue(Api);
            var orleans = parse.GetValue(Gateway) is not null || parse.GetValue(Redis) is not null || parse.GetValue(AzureTable) is not null;
            if (api is not null && orleans)
            {
                throw new UserInputException("--api and --gateway/--redis are two ways to reach a cluster: give one of them.");
            }

            api ??= orleans ? null : Environment.GetEnvironmentVariable("UNET_API") is { Length: > 0 } fromEnvironment ? fromEnvironment : null;
            if (api is not null)
            {
                return new RestJobClient(RestJobClient.ParseAddress(api), Environment.GetEnvironmentVariable(RestJobClient.TokenVariable));
            }

            var address = Address(parse);
            var connection = await ClusterConnection.ConnectAsync(address, cancellationToken).ConfigureAwait(false);
            return new GrainJobClient(connection.Client, address.Describe(), connection);
        }
    }

    private static Command Submit(TextWriter output, TextWriter error)
    {
        var connection = new Connection();
        var data = new Option<string>("--data") { Description = "Name of a data set known to the cluster.", DefaultValueFactory = _ => "isbi2012-em" };
        var id = new Option<string?>("--id") { Description = "Job id (default: a new one)." };
        var preset = Choices.Preset();
        var seed = new Option<long>("--seed") { Description = "Seed of the initial weights, tiles and augmentation.", DefaultValueFactory = _ => 42 };
        var workers = new Option<int?>("--workers") { Description = "Workers the job waits for before its first step and uses at most (default: every live silo, starting with one)." };
        var reducers = new Option<int?>("--reducers") { Description = "Reducer grains (default: one per worker)." };
        var bucket = new Option<int?>("--bucket-kib") { Description = "Gradient and parameter message size in KiB (default 4096)." };
        var noCopies = new Option<bool>("--no-reducer-copies")
        {
            Description = "Keep no copy of each reducer's state on a second silo: saves 4 bytes per parameter per step of traffic, but losing a reducer's silo sends the job back to its latest checkpoint.",
        };
        var checkpointEvery = new Option<int?>("--checkpoint-every") { Description = "Write a checkpoint every this many steps." };
        var watch = new Option<bool>("--watch") { Description = "Follow the job with a progress bar until it ends (exit code 0 completed, 1 failed, 130 cancelled)." };
        var command = new Command("submit", "Submit a training job to a running cluster; prints the job id.")
        {
            data, id, preset, seed, workers, reducers, bucket, noCopies, checkpointEvery, watch,
        };
        var overrideOptions = new TrainingOverrideOptions();
        overrideOptions.AddTo(command);
        connection.AddTo(command);
        command.SetAction((parse, cancellationToken) => CommandRunner.RunAsync(error, async () =>
        {
            var spec = JobOptions.Spec(parse.GetValue(data)!, parse.GetValue(preset)!, parse.GetValue(seed), overrideOptions.Parse(parse, checkpointEvery: parse.GetValue(checkpointEvery))) with
            {
                Workers = parse.GetValue(workers),
                Reducers = parse.GetValue(reducers),
                BucketKiB = parse.GetValue(bucket),
                ReducerCopies = parse.GetValue(noCopies) ? false : null,
            };
            await using var cluster = await connection.OpenAsync(parse, cancellationToken).ConfigureAwait(false);
            if (await SubmitAsync(cluster, spec, parse.GetValue(id), output, error, cancellationToken).ConfigureAwait(false) is not { } jobId)
            {
                return Cli.BadInput;
            }

            return parse.GetValue(watch) ? await WatchAsync(cluster, jobId, output, cancellationToken).ConfigureAwait(false) : Cli.Ok;
        }));
        return command;
    }

    private static Command Status(TextWriter output, TextWriter error)
    {
        var connection = new Connection();
        var id = new Argument<string>("job") { Description = "The job id." };
        var json = CliJson.Option("the job's status (the REST API's GET /api/jobs/{id} document)");
        var command = new Command("status", "Show a job's state, step, loss, workers and checkpoint.") { id, json };
        connection.AddTo(command);
        command.SetAction((parse, cancellationToken) => CommandRunner.RunAsync(error, async () =>
        {
            await using var cluster = await connection.OpenAsync(parse, cancellationToken).ConfigureAwait(false);
            var status = await cluster.GetStatusAsync(parse.GetValue(id)!, cancellationToken).ConfigureAwait(false);
            await output.WriteLineAsync(parse.GetValue(json) ? CliJson.Serialize(status) : Describe(status)).ConfigureAwait(false);
            return Cli.Ok;
        }));
        return command;
    }

    private static Command Watch(TextWriter output, TextWriter error)
    {
        var connection = new Connection();
        var id = new Argument<string>("job") { Description = "The job id." };
        var command = new Command("watch", "Follow a job with a live progress bar until it ends (Ctrl+C stops watching; the job goes on). Exit code 0 completed, 1 failed, 130 cancelled.") { id };
        connection.AddTo(command);
        command.SetAction((parse, cancellationToken) => CommandRunner.RunAsync(error, async () =>
        {
            await using var cluster = await connection.OpenAsync(parse, cancellationToken).ConfigureAwait(false);
            var jobId = parse.GetValue(id)!;
            await cluster.GetStatusAsync(jobId, cancellationToken).ConfigureAwait(false);
            return await WatchAsync(cluster, jobId, output, cancellationToken).ConfigureAwait(false);
        }));
        return command;
    }

    private static Command List(TextWriter output, TextWriter error)
    {
        var connection = new Connection();
        var json = CliJson.Option("every job's status, an array (the REST API's GET /api/jobs document)");
        var command = new Command("list", "List the cluster's jobs.") { json };
        connection.AddTo(command);
        command.SetAction((parse, cancellationToken) => CommandRunner.RunAsync(error, async () =>
        {
            await using var cluster = await connection.OpenAsync(parse, cancellationToken).ConfigureAwait(false);
            var jobs = await cluster.ListAsync(cancellationToken).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                await CliJson.WriteAsync(output, jobs).ConfigureAwait(false);
                return Cli.Ok;
            }

            if (jobs.Count == 0)
            {
                await output.WriteLineAsync("No jobs.").ConfigureAwait(false);
                return Cli.Ok;
            }

            // STEP is a training job's committed steps, and a prediction job's units done of those planned so far.
            await output.WriteLineAsync($"{"JOB",-28} {"KIND",-7} {"STATE",-10} {"STEP",13} {"LOSS",8} {"WORKERS",7}  DATA").ConfigureAwait(false);
            foreach (var job in jobs)
            {
                await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"{job.Id,-28} {job.Spec.Kind,-7} {State(job),-10} {$"{job.Step}/{job.Steps}",13} {job.SmoothedLoss?.ToString("F4", CultureInfo.InvariantCulture) ?? "-",8} {job.Workers.Count,7}  {job.Spec.DataSet}")).ConfigureAwait(false);
            }

            return Cli.Ok;
        }));
        return command;
    }

    private static Command Cancel(TextWriter output, TextWriter error)
    {
        var connection = new Connection();
        var id = new Argument<string>("job") { Description = "The job id." };
        var command = new Command("cancel", "Stop a job at its next step boundary; it writes a checkpoint.") { id };
        connection.AddTo(command);
        command.SetAction((parse, cancellationToken) => CommandRunner.RunAsync(error, async () =>
        {
            await using var cluster = await connection.OpenAsync(parse, cancellationToken).ConfigureAwait(false);
            var jobId = parse.GetValue(id)!;
            var status = await cluster.GetStatusAsync(jobId, cancellationToken).ConfigureAwait(false);
            if (status.IsFinished)
            {
                await output.WriteLineAsync($"Job {jobId} has already ended ({State(status)}).").ConfigureAwait(false);
                return Cli.Ok;
            }

            await cluster.CancelAsync(jobId, cancellationToken).ConfigureAwait(false);
            await output.WriteLineAsync($"Job {jobId} stops at its next step boundary and writes a checkpoint.").ConfigureAwait(false);
            return Cli.Ok;
        }));
        return command;
    }

    private static Command Silos(TextWriter output, TextWriter error)
    {
        var connection = new Connection();
        var json = CliJson.Option("the silos, an array of {address, status}");
        var command = new Command("silos", "List the cluster's silos and their membership status (each active silo runs one worker).") { json };
        connection.AddTo(command);
        command.SetAction((parse, cancellationToken) => CommandRunner.RunAsync(error, async () =>
        {
            await using var cluster = await connection.OpenAsync(parse, cancellationToken).ConfigureAwait(false);
            var silos = await cluster.ListSilosAsync(cancellationToken).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                await CliJson.WriteAsync(output, silos).ConfigureAwait(false);
                return Cli.Ok;
            }

            foreach (var silo in silos)
            {
                await output.WriteLineAsync($"{silo.Address,-40} {silo.Status}").ConfigureAwait(false);
            }

            return Cli.Ok;
        }));
        return command;
    }

    /// <summary>
    /// Submits a job and prints its id; when the cluster refuses the spec, prints every error (nothing was created) and
    /// returns null.
    /// </summary>
    internal static async Task<string?> SubmitAsync(IJobClient cluster, JobSpec spec, string? id, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var result = await cluster.SubmitAsync(spec, id, cancellationToken).ConfigureAwait(false);
        if (!result.Accepted)
        {
            await error.WriteLineAsync($"error: the {(spec.Prediction is null ? "" : "prediction ")}job was refused (nothing was created):").ConfigureAwait(false);
            foreach (var message in result.Errors)
            {
                await error.WriteLineAsync($"  {message}").ConfigureAwait(false);
            }

            return null;
        }

        await output.WriteLineAsync(result.JobId).ConfigureAwait(false);
        return result.JobId;
    }

    /// <summary>Follows a job until it ends; the exit code says how it ended: 0 completed, 1 failed (or completed with errors), 130 cancelled or no longer watched.</summary>
    internal static async Task<int> WatchAsync(IJobClient cluster, string jobId, TextWriter output, CancellationToken cancellationToken)
    {
        var status = await JobWatcher.WatchAsync(cluster, jobId, new TrainingProgressDisplay(output), cancelJobOnInterrupt: false, cancellationToken).ConfigureAwait(false);
        await output.WriteLineAsync(Describe(status)).ConfigureAwait(false);
        return status.State switch
        {
            JobState.Completed => Cli.Ok,
            JobState.Failed or JobState.CompletedWithErrors => Cli.Failed,
            _ => Cli.Cancelled,
        };
    }

    /// <summary>
    /// ", tile 476x476": the spec's tile, which the cluster stores when it fits one to small images (a spec without one
    /// trains on its preset's); empty for a preset this client does not know.
    /// </summary>
    private static string Tile(JobSpec spec) =>
        (spec.TileSize ?? (Presets.Names.Contains(spec.Preset, StringComparer.OrdinalIgnoreCase) ? Presets.Get(spec.Preset).TileSize : null)) is { } tile
            ? string.Create(CultureInfo.InvariantCulture, $", tile {tile}x{tile}")
            : string.Empty;

    /// <summary>A worker's device and precision with the memory it had in use, e.g. "cpu bf16 (1.2 GiB RSS)"; without it when not measured.</summary>
    private static string WithMemory(string compute, long bytes) =>
        bytes > 0 ? $"{compute} ({MemoryEstimate.Describe(bytes)} {MemoryInUse.Kind})" : compute;

    /// <summary>Where the reducers' state survives a silo: "copies off", or how many shards have a copy on another silo now.</summary>
    private static string Copies(JobStatus status) =>
        status.Spec.ReducerCopies == false ? "copies off (a lost reducer's silo means going back to the latest checkpoint)"
        : $"{status.ReducerCopies.Count(c => c.Length > 0)} with a copy on another silo, {status.ReducersRecovered} taken over from a copy or adopted by a new coordinator";

    /// <summary>A job's state as the CLI shows it: "completed-with-errors" rather than the enum's name.</summary>
    public static string State(JobStatus status) =>
        status.State == JobState.CompletedWithErrors ? "completed-with-errors" : status.State.ToString().ToLowerInvariant();

    /// <summary>A prediction job's status as lines for people.</summary>
    private static string DescribePrediction(JobStatus status, PredictionSpec spec)
    {
        var progress = status.Prediction ?? new PredictionProgress();
        var lines = new List<string>
        {
            $"job {status.Id} (predict): {State(status)}{((status.StopReason ?? status.Waiting) is { } reason ? $" ({reason})" : string.Empty)}",
            string.Create(CultureInfo.InvariantCulture,
                $"  {progress.ImagesDone} image(s) written from {progress.Files} file(s); units {progress.UnitsDone}/{progress.Units}, {progress.ImagesPerSecond:F2} images/s, elapsed {Durations.Format(status.Elapsed)}"),
            $"  input {spec.DescribeInput()}; checkpoint {progress.Checkpoint ?? spec.Checkpoint ?? spec.FromJob}",
            $"  workers ({status.Workers.Count}): {(status.Workers.Count == 0 ? "-" : string.Join(", ", status.Workers))}; units handed to another worker {progress.Reassigned}",
        };
        if (progress.Outputs is not null)
        {
            lines.Add($"  outputs: {progress.Outputs}{(progress.OutputFiles > 0 ? $" ({progress.OutputFiles} files and manifest.json)" : string.Empty)}");
        }

        lines.AddRange(progress.Errors.Select(e => $"  item error: {e}"));
        if (status.Error is not null)
        {
            lines.Add($"  error: {status.Error}");
        }

        return string.Join(Environment.NewLine, lines);
    }

    /// <summary>A job's status as lines for people.</summary>
    public static string Describe(JobStatus status)
    {
        ArgumentNullException.ThrowIfNull(status);
        if (status.Spec.Prediction is { } prediction)
        {
            return DescribePrediction(status, prediction);
        }

        var lines = new List<string>
        {
            $"job {status.Id}: {status.State.ToString().ToLowerInvariant()}{((status.StopReason ?? status.Waiting) is { } reason ? $" ({reason})" : string.Empty)}",
            string.Create(CultureInfo.InvariantCulture, $"  step {status.Step}/{status.Steps}, loss {status.SmoothedLoss?.ToString("F4", CultureInfo.InvariantCulture) ?? "-"}, {status.TilesPerSecond:F2} tiles/s, elapsed {Durations.Format(status.Elapsed)}"),
            $"  data set {status.Spec.DataSet}, preset {status.Spec.Preset}{Tile(status.Spec)}, seed {status.Spec.Seed}, {status.Parameters:N0} parameters",
            $"  workers ({status.Workers.Count}): {(status.Workers.Count == 0 ? "-" : string.Join(", ", status.Workers))}",
            $"  recomputed step attempts {status.RecomputedSteps}, restores from a checkpoint {status.Restores}{(status.LastRecompute is { } why ? $"; last recomputed: {why}" : string.Empty)}",
            $"  reducers {status.Reducers.Count}: {Copies(status)}",
        };
        if (status.WorkerCompute.Count > 0)
        {
            lines.Insert(4, $"  computing in: {string.Join(", ", status.WorkerCompute.Select((compute, i) => WithMemory(compute, status.WorkerMemoryBytes.ElementAtOrDefault(i))))} (worker order)");
        }
        if (status.Checkpoint is not null)
        {
            lines.Add($"  checkpoint at step {status.CheckpointStep}: {status.Checkpoint}");
        }

        if (status.Validation is { } validation)
        {
            lines.Add("  " + Cluster.JobWatcher.Describe(validation, status.BestValidation, status.HighestValidation));
        }

        if (status.BestValidation is { } best)
        {
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"  best: step {best.Step}, {best.Metric} {best.Value:0.####} at threshold {best.Threshold:0.00}; checkpoint {status.BestCheckpoint ?? "(being written)"}"));
            if (Cluster.JobWatcher.BorderNotLearned(best) is { } warning)
            {
                lines.Add("  " + warning);
            }
        }

        if (status.ValidationError is not null)
        {
            lines.Add($"  validation: {status.ValidationError}");
        }

        if (status.Error is not null)
        {
            lines.Add($"  error: {status.Error}");
        }

        return string.Join(Environment.NewLine, lines);
    }
}
