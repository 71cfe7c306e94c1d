using System.Globalization;
using UNetCluster.Data.Storage;

namespace UNetCluster.Training.Jobs;

/// <summary>
/// Where a prediction job's files are in the cluster's storage (DESIGN.md's <c>predictions/{job}/</c>): the outputs
/// directly under it with <c>manifest.json</c> (a sha256 per file and the checkpoint used), and the work in flight
/// under <c>.work/</c>: a done marker per unit (a unit is done once its marker is written, which makes every unit's
/// output written once however often it is handed out) and the maps of the blocks of images not yet assembled.
/// </summary>
public static class PredictionLayout
{
    public const string Root = "predictions";
    public const string ManifestFile = "manifest.json";
    public const string WorkFolder = ".work";

    /// <summary>The format tag of <see cref="ManifestFile"/>.</summary>
    public const string ManifestFormat = "unetcluster.predictions/1";

    public static string Outputs(string jobId) => BlobNames.Combine(Root, jobId) + "/";

    public static string Output(string jobId, string file) => BlobNames.Combine(Root, jobId, file);

    public static string Manifest(string jobId) => Output(jobId, ManifestFile);

    public static string Work(string jobId) => BlobNames.Combine(Root, jobId, WorkFolder) + "/";

    public static string Marker(string jobId, string unitId) => BlobNames.Combine(Root, jobId, WorkFolder, "units", unitId + ".json");

    public static string Markers(string jobId) => BlobNames.Combine(Root, jobId, WorkFolder, "units") + "/";

    public static string BlockMaps(string jobId, string blockUnitId) => BlobNames.Combine(Root, jobId, WorkFolder, "blocks", blockUnitId + ".maps");

    /// <summary>The id of input file <paramref name="index"/> (in name order): <c>f000012</c>.</summary>
    public static string FileUnit(int index) => string.Create(CultureInfo.InvariantCulture, $"f{index:D6}");

    /// <summary>The id of a page's block: <c>f000012.p0.b00003</c>.</summary>
    public static string BlockUnit(string fileUnit, int page, int block) => string.Create(CultureInfo.InvariantCulture, $"{fileUnit}.p{page}.b{block:D5}");

    /// <summary>The id of a page's assembly: <c>f000012.p0.a</c>.</summary>
    public static string AssembleUnit(string fileUnit, int page) => string.Create(CultureInfo.InvariantCulture, $"{fileUnit}.p{page}.a");

    /// <summary>The file unit a block or assembly unit belongs to (<c>f000012.p0.b00003</c> -> <c>f000012</c>); a file unit's own id.</summary>
    public static string FileUnitOf(string unitId)
    {
        ArgumentNullException.ThrowIfNull(unitId);
        var at = unitId.IndexOf('.', StringComparison.Ordinal);
        return at < 0 ? unitId : unitId[..at];
    }

    /// <summary>The name a page's outputs start with: the file's stem, and <c>-p{page}</c> after the first page (as <c>unet predict</c>).</summary>
    public static string PageStem(string stem, int page) => page > 0 ? string.Create(CultureInfo.InvariantCulture, $"{stem}-p{page}") : stem;
}
