using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace UNetCluster.EndToEnd.Tests;

/// <summary>A child process whose output is kept for failure messages.</summary>
public sealed class ChildProcess : IDisposable
{
    private readonly List<string> _lines = [];

    public ChildProcess(string name, ProcessStartInfo start, int port = 0)
    {
        Name = name;
        Port = port;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        Process = Process.Start(start) ?? throw new InvalidOperationException($"{name} did not start.");
        Process.OutputDataReceived += (_, e) => Add(e.Data);
        Process.ErrorDataReceived += (_, e) => Add(e.Data);
        Process.BeginOutputReadLine();
        Process.BeginErrorReadLine();
    }

    public string Name { get; }

    /// <summary>The silo port of a silo process (0 for others).</summary>
    public int Port { get; }

    public Process Process { get; }

    public string Output
    {
        get
        {
            lock (_lines)
            {
                return string.Join('\n', _lines);
            }
        }
    }

    /// <summary>SIGKILL: the process gets no chance to leave the cluster.</summary>
    public void KillHard()
    {
        using var kill = Process.Start("kill", ["-9", Process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
        Process.WaitForExit();
    }

    public void Dispose()
    {
        if (!Process.HasExited)
        {
            Process.Kill(entireProcessTree: true);
            Process.WaitForExit();
        }

        Process.Dispose();
    }

    private void Add(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_lines)
        {
            _lines.Add(line);
        }
    }

    /// <summary>Waits until something listens on a loopback port.</summary>
    public static async Task WaitForPortAsync(int port, ChildProcess owner, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !owner.Process.HasExited)
            {
                await Task.Delay(200);
            }
            catch (SocketException e)
            {
                throw new InvalidOperationException($"{owner.Name} is not listening on {port}: {e.Message}\n{owner.Output}", e);
            }
        }
    }
}
