using System.Text.RegularExpressions;
using UNetCluster.Contracts.Jobs;
using UNetCluster.Data.DataSets;
using UNetCluster.Data.Imaging;
using UNetCluster.Model;
using UNetCluster.Model.Training;
using UNetCluster.Training.Settings;

namespace UNetCluster.Training.Jobs;

/// <summary>
/// Checks a job spec before anything is created: every field, the data set's name and files, and the training
/// options it leads to. Each error names the field and says what is accepted.
/// </summary>
public sealed partial class JobSpecValidator(DataCatalog catalog)
{
    /// <summary>The errors of a spec; empty when it is valid.</summary>
    public IReadOnlyList<string> Validate(JobSpec spec, string? jobId) => Check(spec, jobId).Errors;

    /// <summary>
    /// The errors of a spec (empty when it is valid) and the spec to store: with <see cref="JobSpec.Channels"/> set to
    /// the data set's channel count, for a data set of class masks <see cref="JobSpec.Classes"/> set to its class
    /// count, and <see cref="JobSpec.TileSize"/> to <see cref="FittedTile"/> where the preset's tile does not fit the
    /// data, when the spec leaves them open, so that every silo builds the same network from it (as <c>unet train</c>
    /// takes them from the data).
    /// </summary>
    public (IReadOnlyList<string> Errors, JobSpec Spec) Check(JobSpec spec, string? jobId)
    {
        if (spec is null)
        {
            return (["The job spec is missing."], spec!);
        }

        var errors = Errors(spec, jobId, out var data);
        if (errors.Count > 0 || data is null)
        {
            return (errors, spec);
        }

        return (errors, spec with { Channels = spec.Channels ?? data.Channels, Classes = spec.Classes ?? data.Classes, TileSize = spec.TileSize ?? data.Tile });
    }

    /// <summary>
    /// What a spec leaves open and its data set decides: the channel count, the class count of class masks, and the
    /// tile where the preset's does not fit.
    /// </summary>
    private sealed record DataDefaults(int Channels, int? Classes, int? Tile);

    private List<string> Errors(JobSpec spec, string? jobId, out DataDefaults? dataDefaults)
    {
        dataDefaults = null;

        var errors = new List<string>();
        if (jobId is not null && !JobIdPattern().IsMatch(jobId))
        {
            errors.Add($"job id '{jobId}' is invalid: expected 1 to 64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit.");
        }

        if (spec.Steps is <= 0)
        {
            errors.Add($"steps {spec.Steps} is invalid: expected an integer from 1 to 10000000.");
        }

        if (spec.Workers is <= 0 or > 1024)
        {
            errors.Add($"workers {spec.Workers} is invalid: expected an integer from 1 to 1024 (or none for every live worker).");
        }

        if (spec.Reducers is <= 0 or > 256)
        {
            errors.Add($"reducers {spec.Reducers} is invalid: expected an integer from 1 to 256 (or none for one per worker).");
        }

        if (spec.BucketKiB is <= 0 or > 65536)
        {
            errors.Add($"bucket-kib {spec.BucketKiB} is invalid: expected 1 to 65536 KiB, under Orleans' 100 MiB message limit.");
        }

        TrainingOptions? options = null;
        if (errors.Count == 0 || spec.Steps is not <= 0)
        {
            try
            {
                options = JobOptions.Build(spec);
            }
            catch (ArgumentException e)
            {
                errors.Add(e.Message.Replace(" (Parameter", " (field", StringComparison.Ordinal));
            }
        }

        DataSetSections? sections;
        try
        {
            // A stored data set's files are checked to be there with their sizes; their contents are checked against
            // their sha256 where a worker fetches them.
            sections = catalog.OpenAsync(spec.DataSet, checkStoredFiles: true).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is InvalidDataException or IOException or Azure.RequestFailedException)
        {
            errors.Add($"data set '{spec.DataSet}' cannot be read from the cluster's storage: {e.Message}");
            return errors;
        }
        catch (Exception e) when (e is DataSetValidationException or InvalidImageException)
        {
            errors.Add($"data set '{spec.DataSet}': {e.Message}");
            return errors;
        }

        if (sections is null)
        {
            errors.Add($"data set '{spec.DataSet}' is unknown: expected one of {string.Join(", ", catalog.Names())}.");
        }
        else if (ChannelError(spec.Channels, sections) is { } channelError)
        {
            errors.Add(channelError);
        }
        else if (options is not null)
        {
            var dataClasses = sections.Kind == MaskKind.Classes && spec.Classes is null ? sections.Classes : (int?)null;
            if (dataClasses is { } fromData)
            {
                options = options with { Model = options.Model with { Classes = fromData } };
            }

            var fitted = FittedTile(spec.TileSize, options, sections);
            if (fitted is { } tile)
            {
                options = options with { TileSize = tile };
            }

            dataDefaults = new DataDefaults(sections.Channels, dataClasses, fitted);

            try
            {
                TrainingData.ValidationIndexes(sections.Count, options.ValidationSections);
            }
            catch (ArgumentException e)
            {
                errors.Add($"data set '{spec.DataSet}': {e.Message}");
            }

            if (TileFitError(options, sections) is { } tooLarge)
            {
                errors.Add(tooLarge);
            }

            if (ClassesError(options, sections) is { } classes)
            {
                errors.Add(classes);
            }
        }

        return errors;
    }

    /// <summary>
    /// Why a data set cannot train a network of <paramref name="channels"/> input channels (its images have another
    /// count), naming both; null when they match or when <paramref name="channels"/> is null (the data's count is used).
    /// </summary>
    public static string? ChannelError(int? channels, DataSetSections sections)
    {
        ArgumentNullException.ThrowIfNull(sections);
        return channels is { } wanted && wanted != sections.Channels
            ? $"--channels {wanted} does not match data set '{sections.Name}': its images have {DataSetLoader.Channels(sections.Channels)}; " +
              $"expected --channels {sections.Channels}, or none to follow the data."
            : null;
    }

    /// <summary>
    /// Why the training tile cannot be drawn from a data set: its output window is larger than the data set's
    /// smallest section (a worker could never place it). Null when it fits. Checked at submit, and by <c>unet train</c>
    /// before anything is written, so that the worker's own check never fails a running job.
    /// </summary>
    public static string? TileFitError(TrainingOptions options, DataSetSections sections)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(sections);
        if (sections.Smallest is not { } smallest || TileGeometry.OutputSize(options.Model, options.TileSize) is not { } output)
        {
            return null;
        }

        var side = Math.Min(smallest.Width, smallest.Height);
        if (output <= side)
        {
            return null;
        }

        var smallestTile = TileGeometry.MinimumInputSize(options.Model);
        var smallestOutput = TileGeometry.OutputSize(options.Model, smallestTile);
        var accepted = TileGeometry.LargestInputSizeForOutput(options.Model, side) is { } largest
            ? $"expected a tile whose output fits every section: at most {largest} for this network"
            : $"no tile fits: the smallest tile of this network ({smallestTile}) has a {smallestOutput} x {smallestOutput} output, " +
              "so every section must be at least that large";
        return $"--tile {options.TileSize} is too large for data set '{sections.Name}': its output window ({output} x {output}) " +
               $"does not fit section '{smallest.Id}' ({smallest.Width} x {smallest.Height}); {accepted}.";
    }

    /// <summary>
    /// The tile a spec or command that gives none (<paramref name="givenTile"/> null) trains on when its preset's tile
    /// does not fit the data set: the largest whose output fits the smallest section, the tile
    /// <see cref="TileFitError"/> would ask for. Null when a tile is given (one that does not fit is refused), when the
    /// preset's fits, or when none fits.
    /// </summary>
    public static int? FittedTile(int? givenTile, TrainingOptions options, DataSetSections sections)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(sections);
        return givenTile is null && TileFitError(options, sections) is not null && sections.Smallest is { } smallest
            ? TileGeometry.LargestInputSizeForOutput(options.Model, Math.Min(smallest.Width, smallest.Height))
            : null;
    }

    /// <summary>
    /// Why the model's classes do not fit a data set's masks: fewer outputs than its class masks index, or a border
    /// class asked of masks without object ids. Null when they fit.
    /// </summary>
    public static string? ClassesError(TrainingOptions options, DataSetSections sections)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(sections);
        if (sections.Kind == MaskKind.Classes && options.Model.Classes < sections.Classes)
        {
            return $"classes {options.Model.Classes} is too few for data set '{sections.Name}': its masks hold class indices 0..{sections.Classes - 1}; " +
                   $"expected classes {sections.Classes} (--classes {sections.Classes}) or more.";
        }

        if (options.BorderClass && sections.Kind is MaskKind.Binary or MaskKind.Classes)
        {
            return $"border-class needs instance masks (object ids), but data set '{sections.Name}' holds {(sections.Kind == MaskKind.Classes ? "class indices" : "binary masks")}.";
        }

        return null;
    }

    /// <summary>The error of a job id, or null when it is valid (or none is given).</summary>
    public static string? JobIdError(string? jobId) =>
        jobId is not null && !JobIdPattern().IsMatch(jobId)
            ? $"job id '{jobId}' is invalid: expected 1 to 64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit."
            : null;

    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{0,63}$")]
    private static partial Regex JobIdPattern();
}
