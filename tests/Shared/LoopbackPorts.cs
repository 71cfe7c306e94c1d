using System.Net;
using System.Net.Sockets;

namespace UNetCluster.Tests.Common;

/// <summary>
/// Ports for the servers a test starts (silos, Redis, Azurite, HTTP endpoints). A port asked of the kernel with bind(0)
/// comes from the ephemeral range and is free only until the probe closes it: before the server binds it, any outbound
/// connection of any process on the machine may take it as its local port (a CI run failed so: a silo's health port,
/// picked that way, was in use when the silo started). These ports come from below the ephemeral range, which the
/// kernel never hands out on its own, each at most once per test process, starting at an offset of the process id so
/// that two test processes do not walk the same ports; each is checked free on every address before it is given.
/// </summary>
public static class LoopbackPorts
{
    private const int Lowest = 10_000;
    private static readonly (int First, int Count) Range = BelowEphemeral();
    private static int _next = Environment.ProcessId * 7_919 % Range.Count;

    /// <summary>A port that nothing listens on and that this process has not handed out before.</summary>
    public static int Next()
    {
        for (var attempt = 0; attempt < Range.Count; attempt++)
        {
            var port = Range.First + (int)((uint)Interlocked.Increment(ref _next) % (uint)Range.Count);
            if (IsFree(port))
            {
                return port;
            }
        }

        throw new InvalidOperationException($"No free port in {Range.First}..{Range.First + Range.Count - 1}.");
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            probe.Bind(new IPEndPoint(IPAddress.Any, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>The ports between 10000 and the low end of the kernel's ephemeral range (32768 where it cannot be read or is that low).</summary>
    private static (int First, int Count) BelowEphemeral()
    {
        const string Path = "/proc/sys/net/ipv4/ip_local_port_range";
        var bounds = File.Exists(Path) ? File.ReadAllText(Path).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries) : [];
        var low = bounds.Length > 0 && int.TryParse(bounds[0], System.Globalization.CultureInfo.InvariantCulture, out var l) && l - Lowest >= 1_000 ? l : 32_768;
        return (Lowest, low - Lowest);
    }
}
