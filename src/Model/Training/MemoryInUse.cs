namespace UNetCluster.Model.Training;

/// <summary>
/// The memory a worker reports with each step (status, metrics and the dashboard show it beside its device and
/// precision), so an operator sees which silo is closest to running out. The one owner of what that figure is.
/// </summary>
/// <remarks>
/// It is the process's resident set size, read through <see cref="Environment.WorkingSet"/> rather than by parsing
/// <c>/proc/self/statm</c> ourselves: it is the kernel's figure either way on Linux, it counts libtorch's native
/// allocations (tensors, oneDNN scratch) as well as the managed heap, and it works on every OS a developer builds on.
/// On CUDA it is still the host RSS: TorchSharp 0.107 exposes no <c>torch.cuda.memory_allocated</c> (neither its
/// managed API nor its native <c>LibTorchSharp</c> exports a CUDA memory query; only is_available, device_count,
/// synchronize and the seeds), so the device memory libtorch holds is not reachable from here. GPU owners read it
/// with <c>nvidia-smi</c> (bench/gpu/compare.sh prints it). In-process silos (tests) share one process, so they
/// report the same figure.
/// </remarks>
public static class MemoryInUse
{
    /// <summary>What <see cref="Bytes"/> measures, for people: "RSS" (host resident memory, on every device for now).</summary>
    public const string Kind = "RSS";

    /// <summary>The process's resident set size in bytes, now.</summary>
    public static long Bytes() => Environment.WorkingSet;
}
