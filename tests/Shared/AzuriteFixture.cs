using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using UNetCluster.Data.Storage;

namespace UNetCluster.Tests.Common;

/// <summary>
/// One Azurite blob service for the test assembly: <c>tools/azurite/node_modules/.bin/azurite-blob</c> (installed by
/// scripts/setup.sh with <c>npm ci</c>; <c>UNET_AZURITE</c> overrides the path), on 127.0.0.1 and a free port, with
/// its data in a temporary folder (so that <see cref="StopAsync"/> then <see cref="StartAsync"/> on the same port
/// keeps the blobs). If Azurite cannot start, every test that asks for <see cref="ConnectionString"/> fails with the
/// reason; nothing is skipped. With <see cref="Tables"/>, an <c>azurite-table</c> beside it serves tables too (Orleans'
/// Azure Table membership), and <see cref="ConnectionString"/> names both endpoints.
/// </summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    /// <summary>Azurite's well-known development account.</summary>
    public const string AccountName = "devstoreaccount1";
    public const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private readonly StringBuilder _log = new();
    private readonly string _location = Path.Combine(Path.GetTempPath(), "unetcluster-azurite", Guid.NewGuid().ToString("N"));
    private Process? _process;
    private Process? _tableProcess;
    private string? _failure;

    public int Port { get; private set; }

    /// <summary>Whether an Azurite table service runs too (set before the fixture starts).</summary>
    public bool Tables { get; init; }

    public int TablePort { get; private set; }

    /// <summary>More arguments of the blob service (set before the fixture starts), e.g. <c>--oauth basic --cert ... --key ...</c>.</summary>
    public IReadOnlyList<string> BlobArguments { get; init; } = [];

    /// <summary>More arguments of both services (set before the fixture starts), e.g. <c>--oauth basic --cert ... --key ...</c>.</summary>
    public IReadOnlyList<string> SharedArguments { get; init; } = [];

    /// <summary>Whether the services speak https (they do with <c>--cert</c> in <see cref="BlobArguments"/> or <see cref="SharedArguments"/>).</summary>
    public bool Https { get; init; }

    /// <summary>The blob service's URI, as <c>UNetCluster:Storage:BlobUri</c> takes it.</summary>
    public string BlobServiceUri => $"{(Https ? "https" : "http")}://127.0.0.1:{Port}/{AccountName}";

    /// <summary>The table service's URI, as <c>UNetCluster:Cluster:AzureTableUri</c> takes it.</summary>
    public string TableServiceUri => $"{(Https ? "https" : "http")}://127.0.0.1:{TablePort}/{AccountName}";

    public string ConnectionString => _failure is null
        ? $"DefaultEndpointsProtocol={(Https ? "https" : "http")};AccountName={AccountName};AccountKey={AccountKey};BlobEndpoint={BlobServiceUri};"
          + (Tables ? $"TableEndpoint={TableServiceUri};" : "")
        : throw new InvalidOperationException(_failure);

    /// <summary>A store on a new container of its own (unique per call).</summary>
    public AzureBlobStore CreateStore(int maxRetries = 3) =>
        AzureBlobStore.Connect(ConnectionString, "t" + Guid.NewGuid().ToString("N"), maxRetries: maxRetries);

    public async ValueTask InitializeAsync()
    {
        try
        {
            Port = LoopbackPorts.Next();
            Directory.CreateDirectory(_location);
            await StartAsync().ConfigureAwait(false);
            if (Tables)
            {
                TablePort = LoopbackPorts.Next();
                _tableProcess = await LaunchAsync("azurite-table", ["--tableHost", "127.0.0.1", "--tablePort", Invariant(TablePort), .. SharedArguments], TablePort).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or System.ComponentModel.Win32Exception or TimeoutException)
        {
            _failure = $"Azurite could not start, so the Blob tests cannot run: {e.Message} Install it with scripts/setup.sh " +
                "(npm ci in tools/azurite), or set UNET_AZURITE to an azurite-blob executable (azurite-table beside it for tables).";
        }
    }

    /// <summary>Starts Azurite's blob service (again) on <see cref="Port"/> with the same data folder and waits until it listens.</summary>
    public async Task StartAsync() =>
        _process = await LaunchAsync("azurite-blob", ["--blobHost", "127.0.0.1", "--blobPort", Invariant(Port), .. BlobArguments, .. SharedArguments], Port).ConfigureAwait(false);

    private async Task<Process> LaunchAsync(string service, string[] endpoint, int port)
    {
        var blob = Environment.GetEnvironmentVariable("UNET_AZURITE") ?? FindAzurite();
        var executable = service == "azurite-blob" ? blob : Path.Combine(Path.GetDirectoryName(blob)!, service);
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "--disableTelemetry", "--skipApiVersionCheck" }.Concat(endpoint).Concat(["--location", _location]))
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"'{executable}' did not start.");
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"'{executable}' exited with code {process.ExitCode}: {Log()}");
            }

            using var client = new TcpClient();
            try
            {
                await client.ConnectAsync(IPAddress.Loopback, port).ConfigureAwait(false);
                return process;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100).ConfigureAwait(false);
            }
            catch (SocketException e)
            {
                throw new TimeoutException($"Azurite did not listen on 127.0.0.1:{port} within 30 s ({e.Message}): {Log()}", e);
            }
        }
    }

    private static string Invariant(int value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Stops the Azurite process this fixture started (SIGTERM, SIGKILL after 15 s) and waits until it has exited.</summary>
    public async Task StopAsync()
    {
        var process = _process;
        _process = null;
        if (process is null)
        {
            return;
        }

        if (!process.HasExited)
        {
            // SIGTERM: Azurite saves its metadata to --location and closes, so a restart finds the blobs again
            // (SIGKILL would lose what was written since its last periodic save).
            using (var term = Process.Start("/bin/kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await term.WaitForExitAsync().ConfigureAwait(false);
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync().ConfigureAwait(false);
            }
        }

        process.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        if (_tableProcess is { } tables)
        {
            if (!tables.HasExited)
            {
                tables.Kill(entireProcessTree: true);
                await tables.WaitForExitAsync().ConfigureAwait(false);
            }

            tables.Dispose();
        }

        try
        {
            Directory.Delete(_location, recursive: true);
        }
        catch (IOException)
        {
            // a temporary folder; the OS cleans it
        }
    }

    private static string FindAzurite()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            var candidate = Path.Combine(folder.FullName, "tools", "azurite", "node_modules", ".bin", "azurite-blob");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException($"tools/azurite/node_modules/.bin/azurite-blob was not found above {AppContext.BaseDirectory}.");
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_log)
        {
            _log.AppendLine(line);
        }
    }

    private string Log()
    {
        lock (_log)
        {
            return _log.ToString();
        }
    }
}

/// <summary>The blob stores the storage tests run against: real Azurite and a local folder.</summary>
public static class TestBlobStores
{
    public static TheoryData<string> Backends => ["azurite", "folder"];

    public static IBlobStore Create(AzuriteFixture azurite, string backend)
    {
        ArgumentNullException.ThrowIfNull(azurite);
        return backend switch
        {
            "azurite" => azurite.CreateStore(),
            _ => new FileBlobStore(TemporaryDirectory()),
        };
    }

    /// <summary>A new empty folder under the temp folder.</summary>
    public static string TemporaryDirectory()
    {
        var path = Path.Combine(Path.GetTempPath(), "unetcluster-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }
}
