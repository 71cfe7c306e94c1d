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
/// reason; nothing is skipped.
/// </summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    /// <summary>Azurite's well-known development account.</summary>
    public const string AccountName = "devstoreaccount1";
    public const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private readonly StringBuilder _log = new();
    private readonly string _location = Path.Combine(Path.GetTempPath(), "unetcluster-azurite", Guid.NewGuid().ToString("N"));
    private Process? _process;
    private string? _failure;

    public int Port { get; private set; }

    public string ConnectionString => _failure is null
        ? $"DefaultEndpointsProtocol=http;AccountName={AccountName};AccountKey={AccountKey};BlobEndpoint=http://127.0.0.1:{Port}/{AccountName};"
        : throw new InvalidOperationException(_failure);

    /// <summary>A store on a new container of its own (unique per call).</summary>
    public AzureBlobStore CreateStore(int maxRetries = 3) =>
        AzureBlobStore.Connect(ConnectionString, "t" + Guid.NewGuid().ToString("N"), maxRetries: maxRetries);

    public async ValueTask InitializeAsync()
    {
        try
        {
            Port = FreePort();
            Directory.CreateDirectory(_location);
            await StartAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or System.ComponentModel.Win32Exception or TimeoutException)
        {
            _failure = $"Azurite could not start, so the Blob tests cannot run: {e.Message} Install it with scripts/setup.sh " +
                "(npm ci in tools/azurite), or set UNET_AZURITE to an azurite-blob executable.";
        }
    }

    /// <summary>Starts Azurite (again) on <see cref="Port"/> with the same data folder and waits until it listens.</summary>
    public async Task StartAsync()
    {
        var executable = Environment.GetEnvironmentVariable("UNET_AZURITE") ?? FindAzurite();
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[]
        {
            "--disableTelemetry", "--skipApiVersionCheck", "--blobHost", "127.0.0.1", "--blobPort", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--location", _location,
        })
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"'{executable}' did not start.");
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
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
                await client.ConnectAsync(IPAddress.Loopback, Port).ConfigureAwait(false);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100).ConfigureAwait(false);
            }
            catch (SocketException e)
            {
                throw new TimeoutException($"Azurite did not listen on 127.0.0.1:{Port} within 30 s ({e.Message}): {Log()}", e);
            }
        }
    }

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

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
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
