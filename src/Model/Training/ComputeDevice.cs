using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace UNetCluster.Model.Training;

/// <summary>
/// The device a process computes on, resolved once from what a user or a silo's settings ask for (<c>--device</c>,
/// <c>UNetCluster:Worker:Device</c>): the one owner of the rule "auto takes CUDA when libtorch reports it, else the
/// CPU" and of the refusal of a CUDA device this build of libtorch cannot reach.
/// </summary>
/// <param name="Device">The libtorch device.</param>
/// <param name="Description">What was chosen and why, for the user, e.g. "cpu (auto: libtorch reports no CUDA device)".</param>
public sealed record ComputeDevice(Device Device, string Description)
{
    /// <summary>The names <see cref="Resolve"/> accepts.</summary>
    public const string Accepted = "auto, cpu, cuda or cuda:N";

    /// <summary>The host CPU.</summary>
    public static ComputeDevice Cpu { get; } = new(CPU, "cpu");

    /// <summary>Short name of the device as libtorch spells it: <c>cpu</c>, <c>cuda:0</c>.</summary>
    public string Name => NameOf(Device);

    /// <summary>Short name of a libtorch device: <c>cpu</c>, <c>cuda:0</c>.</summary>
    public static string NameOf(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        return device.type == DeviceType.CUDA ? string.Create(CultureInfo.InvariantCulture, $"cuda:{Math.Max(0, device.index)}") : "cpu";
    }

    /// <summary>
    /// The device named <paramref name="requested"/> (auto, cpu, cuda or cuda:N, any case; null or empty is auto). A CUDA
    /// device that libtorch cannot reach is refused with an <see cref="ArgumentException"/> naming
    /// <paramref name="option"/>, the package and the driver it needs, before any work starts.
    /// </summary>
    public static ComputeDevice Resolve(string? requested, string option = "--device")
    {
        var name = Normalize(requested);
        if (name == "auto")
        {
            return cuda.is_available()
                ? new ComputeDevice(CUDA, "cuda:0 (auto: libtorch reports a CUDA device)")
                : Cpu with { Description = "cpu (auto: libtorch reports no CUDA device)" };
        }

        if (name == "cpu")
        {
            return Cpu;
        }

        if (name == "cuda" || name.StartsWith("cuda:", StringComparison.Ordinal))
        {
            if (CudaIndex(name) is not { } index)
            {
                throw new ArgumentException($"{option} '{requested}' is unknown: expected {Accepted} (N a GPU index from 0).", option);
            }

            if (!cuda.is_available())
            {
                throw new ArgumentException(
                    $"{option} {name}: this build of libtorch reaches no CUDA device. It needs the CUDA build of TorchSharp " +
                    "(package TorchSharp-cuda-linux: build with -p:UNetGpu=true) and an NVIDIA driver with a visible GPU (check nvidia-smi); " +
                    "use --device cpu or auto here.", option);
            }

            var count = cuda.device_count();
            if (index >= count)
            {
                throw new ArgumentException($"{option} {name}: libtorch sees {count} CUDA device(s), cuda:0 to cuda:{count - 1}.", option);
            }

            return new ComputeDevice(new Device(DeviceType.CUDA, index), string.Create(CultureInfo.InvariantCulture, $"cuda:{index}"));
        }

        throw new ArgumentException($"{option} '{requested}' is unknown: expected {Accepted}.", option);
    }

    /// <summary>Whether <paramref name="requested"/> names a device as <see cref="Resolve"/> reads it, without asking libtorch whether it is there.</summary>
    public static bool IsName(string? requested)
    {
        var name = Normalize(requested);
        return name is "auto" or "cpu" || (name.StartsWith("cuda", StringComparison.Ordinal) && CudaIndex(name) is not null);
    }

    private static string Normalize(string? requested) => string.IsNullOrWhiteSpace(requested) ? "auto" : requested.Trim().ToLowerInvariant();

    /// <summary>The GPU index of <c>cuda</c> (0) or <c>cuda:N</c>; null for anything else.</summary>
    private static int? CudaIndex(string name) =>
        name == "cuda" ? 0
        : name.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(name[5..], NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index <= 1024 ? index
        : null;
}
