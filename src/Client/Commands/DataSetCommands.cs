using System.CommandLine;
using System.Globalization;
using UNetCluster.Client.Output;
using UNetCluster.Data.DataSets;
using UNetCluster.Data.Imaging;
using UNetCluster.Data.Storage;

namespace UNetCluster.Client.Commands;

/// <summary>
/// <c>unet dataset upload NAME --images DIR --masks DIR | list | show NAME | delete NAME</c>: labelled data sets in
/// blob storage (<see cref="DataSetStore"/>). The storage is Azure Blob (or Azurite) with <c>--blob CONNECTION</c> or
/// UNET_BLOB and <c>--container</c> (default UNET_BLOB_CONTAINER or unetcluster), or a local folder with <c>--root</c>.
/// </summary>
internal static class DataSetCommands
{
    public const string DefaultContainer = "unetcluster";

    public static Command Create(TextWriter output, TextWriter error)
    {
        var command = new Command("dataset", "Upload, list, show and delete labelled data sets in blob storage.");
        command.Subcommands.Add(Upload(output, error));
        command.Subcommands.Add(List(output, error));
        command.Subcommands.Add(Show(output, error));
        command.Subcommands.Add(Delete(output, error));
        return command;
    }

    internal sealed class Storage
    {
        public Option<string?> Blob { get; } = new("--blob")
        {
            Description = "Azure Blob Storage connection string (default: UNET_BLOB), e.g. Azurite's development connection string, " +
                "or the blob service URI https://<account>.blob.core.windows.net, reached by Azure AD identity (DefaultAzureCredential).",
        };

        public Option<string?> Container { get; } = new("--container") { Description = $"Blob container (default: UNET_BLOB_CONTAINER or {DefaultContainer})." };

        public Option<string?> Root { get; } = new("--root") { Description = "A local folder to use as the store instead of Azure Blob storage." };

        public void AddTo(Command command)
        {
            command.Options.Add(Blob);
            command.Options.Add(Container);
            command.Options.Add(Root);
        }

        /// <summary>The store the options name; with <paramref name="mustExist"/>, a --root folder that is not there is refused.</summary>
        public DataSetStore Open(ParseResult parse, bool mustExist = false) => new(OpenBlobs(parse, mustExist));

        /// <summary>The blob store the options name (see <see cref="Open"/>).</summary>
        public IBlobStore OpenBlobs(ParseResult parse, bool mustExist = false)
        {
            if (parse.GetValue(Root) is { } root)
            {
                if (File.Exists(root))
                {
                    throw new UserInputException($"--root {Path.GetFullPath(root)} is a file: expected the folder of a local data set store.");
                }

                if (mustExist && !Directory.Exists(root))
                {
                    throw new UserInputException($"--root {Path.GetFullPath(root)} does not exist: expected the folder of a local data set store ('unet dataset upload --root' creates it).");
                }

                return new FileBlobStore(root);
            }

            var connection = parse.GetValue(Blob) ?? Environment.GetEnvironmentVariable("UNET_BLOB");
            if (string.IsNullOrWhiteSpace(connection))
            {
                throw new UserInputException("No blob storage given: pass --blob CONNECTION_STRING (or set UNET_BLOB), or --root FOLDER for a local folder.");
            }

            var container = parse.GetValue(Container) ?? Environment.GetEnvironmentVariable("UNET_BLOB_CONTAINER") ?? DefaultContainer;
            if (AzureIdentity.IsServiceUriNotConnectionString(connection))
            {
                return AzureBlobStore.Connect(new Uri(connection), AzureIdentity.DefaultCredential(), container);
            }

            try
            {
                return AzureBlobStore.Connect(connection, container);
            }
            catch (FormatException e)
            {
                throw new UserInputException($"--blob is not a valid Azure Storage connection string (nor an https blob service URI such as https://<account>.blob.core.windows.net): {e.Message}", e);
            }
        }
    }

    /// <summary>What a manifest says the masks hold: "binary masks", "instances masks", "class masks (4 classes)".</summary>
    private static string Masks(DataSetManifest manifest) => manifest.MaskKind == MaskKind.Classes
        ? $"class masks ({manifest.Classes} classes{(manifest.ClassTable is { } table ? ": " + string.Join(", ", table.Names) : string.Empty)})"
        : $"{manifest.MaskKind.ToString().ToLowerInvariant()} masks";

    /// <summary>As <see cref="CommandRunner.RunAsync"/>, and storage that cannot be reached is one line, exit code 1.</summary>
    private static Task<int> RunAsync(TextWriter error, Func<Task<int>> body) => CommandRunner.RunAsync(error, async () =>
    {
        try
        {
            return await body().ConfigureAwait(false);
        }
        catch (Exception e) when (e is Azure.RequestFailedException or AggregateException or HttpRequestException)
        {
            var reason = (e as AggregateException)?.InnerExceptions.LastOrDefault()?.Message ?? e.Message;
            await error.WriteLineAsync($"error: the blob storage request failed: {reason.Split('\n')[0].Trim()}").ConfigureAwait(false);
            return Cli.Failed;
        }
    });

    private static Command Upload(TextWriter output, TextWriter error)
    {
        var storage = new Storage();
        var name = new Argument<string>("NAME") { Description = DataSetStore.NameRule };
        var images = new Option<string>("--images") { Description = "Folder of images (PNG or TIFF, 8 or 16 bit).", Required = true };
        var masks = new Option<string>("--masks") { Description = "Folder of masks (binary; object ids with --mask-kind instances; class indices with --mask-kind classes), same file names as the images.", Required = true };
        var maskKind = Choices.MaskKind("What the masks hold: auto (default), binary, instances or classes (see unet train --help); recorded in the manifest.");
        var classes = new Option<int?>("--classes") { Description = "For --mask-kind classes: the class count (default: the largest index in the masks + 1); an index at or above it is refused. Recorded in the manifest." };
        var maxPixels = new ImageLimitOption();
        var command = new Command("upload", "Validate every image and mask pair, then upload them and the data set's manifest; a bad pair uploads nothing.") { name, images, masks, maskKind, classes, maxPixels.Option };
        storage.AddTo(command);
        command.SetAction((parse, ct) => RunAsync(error, async () =>
        {
            var dataSetName = DataSetStore.ValidateName(parse.GetValue(name)!);
            var store = storage.Open(parse);
            var kind = Choices.MaskKindOf(parse.GetValue(maskKind)) ?? MaskKind.Auto;
            var classCount = ClassesOption.Require(parse.GetValue(classes), kind);
            DataSetManifest manifest;
            try
            {
                manifest = await store.UploadAsync(dataSetName, parse.GetValue(images)!, parse.GetValue(masks)!, maskKind: kind, limits: maxPixels.Limits(parse), classes: classCount, cancellationToken: ct).ConfigureAwait(false);
            }
            catch (InvalidOperationException e)
            {
                throw new UserInputException(e.Message, e);
            }

            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"Uploaded data set '{manifest.Name}': {manifest.Items.Count} items, {manifest.Sections} sections, {manifest.Bytes / 1e6:F1} MB, {Masks(manifest)}, {DataSetLoader.Channels(manifest.Channels)} per image.")).ConfigureAwait(false);
            return Cli.Ok;
        }));
        return command;
    }

    private static Command List(TextWriter output, TextWriter error)
    {
        var storage = new Storage();
        var json = CliJson.Option("the data sets' manifests, an array (items, sizes, sha256s, mask kind; plus sections and bytes)");
        var command = new Command("list", "List the data sets.") { json };
        storage.AddTo(command);
        command.SetAction((parse, ct) => RunAsync(error, async () =>
        {
            var problems = new List<string>();
            var all = await storage.Open(parse, mustExist: true).ListAsync(problems.Add, ct).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                foreach (var problem in problems)
                {
                    await error.WriteLineAsync($"warning: {problem}").ConfigureAwait(false);
                }

                await CliJson.WriteAsync(output, all).ConfigureAwait(false);
                return Cli.Ok;
            }

            if (all.Count == 0)
            {
                await output.WriteLineAsync(problems.Count == 0 ? "No data sets." : "No readable data sets.").ConfigureAwait(false);
            }

            foreach (var problem in problems)
            {
                await error.WriteLineAsync($"warning: {problem}").ConfigureAwait(false);
            }

            foreach (var manifest in all)
            {
                await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"{manifest.Name,-32} {manifest.Items.Count,5} items {manifest.Sections,6} sections {manifest.Bytes / 1e6,9:F1} MB  {manifest.CreatedUtc:yyyy-MM-dd HH:mm}Z")).ConfigureAwait(false);
            }

            return Cli.Ok;
        }));
        return command;
    }

    private static Command Show(TextWriter output, TextWriter error)
    {
        var storage = new Storage();
        var name = new Argument<string>("NAME") { Description = "The data set's name." };
        var json = CliJson.Option("the data set's manifest");
        var command = new Command("show", "Show a data set's items: size, bit depth, pages, sha256.") { name, json };
        storage.AddTo(command);
        command.SetAction((parse, ct) => RunAsync(error, async () =>
        {
            var dataSetName = DataSetStore.ValidateName(parse.GetValue(name)!);
            var manifest = await storage.Open(parse, mustExist: true).GetAsync(dataSetName, ct).ConfigureAwait(false)
                ?? throw new UserInputException($"There is no data set named '{dataSetName}' (see 'unet dataset list').");
            if (parse.GetValue(json))
            {
                await CliJson.WriteAsync(output, manifest).ConfigureAwait(false);
                return Cli.Ok;
            }

            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{manifest.Name}: {manifest.Items.Count} items, {manifest.Sections} sections, {manifest.Bytes / 1e6:F1} MB, {Masks(manifest)}, {DataSetLoader.Channels(manifest.Channels)}, created {manifest.CreatedUtc:u}")).ConfigureAwait(false);
            foreach (var item in manifest.Items)
            {
                await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"  {item.Id,-24} {item.Width}x{item.Height} {item.BitDepth}-bit {item.Pages} page(s)  image {item.Image.Sha256[..12]}  mask {item.Mask.Sha256[..12]}")).ConfigureAwait(false);
            }

            return Cli.Ok;
        }));
        return command;
    }

    private static Command Delete(TextWriter output, TextWriter error)
    {
        var storage = new Storage();
        var name = new Argument<string>("NAME") { Description = "The data set's name." };
        var command = new Command("delete", "Delete a data set (its manifest first, then its files).") { name };
        storage.AddTo(command);
        command.SetAction((parse, ct) => RunAsync(error, async () =>
        {
            var dataSetName = DataSetStore.ValidateName(parse.GetValue(name)!);
            if (!await storage.Open(parse).DeleteAsync(dataSetName, ct).ConfigureAwait(false))
            {
                throw new UserInputException($"There is no data set named '{dataSetName}' (see 'unet dataset list').");
            }

            await output.WriteLineAsync($"Deleted data set '{dataSetName}'.").ConfigureAwait(false);
            return Cli.Ok;
        }));
        return command;
    }
}
