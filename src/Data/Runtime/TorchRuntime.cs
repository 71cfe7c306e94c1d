using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace UNetCluster.Data.Runtime;

/// <summary>
/// Process-wide libtorch settings that work around faults of the libtorch 2.10 CPU build on this project's
/// machines (AMD EPYC with AVX-512, Debian 12). TorchSharp exposes no switch for them, so they call libtorch's
/// <c>at::globalContext()</c> setters directly (Linux, Itanium C++ ABI names).
/// </summary>
/// <remarks>
/// <para>NNPACK cannot initialise on these CPUs; left on, every convolution tries again and logs a warning. It is
/// switched off.</para>
/// <para>oneDNN (mkldnn) returns NaN gradients now and then for layer widths that are not a multiple of 16 (the
/// AVX-512 vector width), in bf16 more often than in fp32, and is several times faster than libtorch's fallback (figures in bench/README.md), so it
/// stays on for networks whose widths are multiples of 16 and is switched off, for the rest of the process, as soon
/// as a network with other widths is built. <c>UNETCLUSTER_MKLDNN=1</c> forces it on, <c>UNETCLUSTER_MKLDNN=0</c>
/// off.</para>
/// </remarks>
public static partial class TorchRuntime
{
    public const string MkldnnVariable = "UNETCLUSTER_MKLDNN";
    public const int SafeChannelMultiple = 16;

    private static readonly Lazy<bool> Configured = new(Configure, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Applies the settings once per process; later calls return at once.</summary>
    public static void EnsureConfigured() => _ = Configured.Value;

    /// <summary>
    /// Makes libtorch's OpenMP threads sleep at once when a parallel region ends instead of spinning (GNU OpenMP's
    /// OMP_WAIT_POLICY=PASSIVE), unless the environment already sets a policy: spinning threads take the cores that a
    /// silo's messaging and the code between operations need (bench/README.md). Must run before
    /// libtorch is loaded (the first tensor): libgomp reads the variable once, from the C environment, which
    /// <see cref="Environment.SetEnvironmentVariable(string, string)"/> does not reach.
    /// </summary>
    public static void PreferPassiveOpenMp()
    {
        if (OperatingSystem.IsLinux() && Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is null)
        {
            _ = SetEnvironment("OMP_WAIT_POLICY", "PASSIVE", 0);
        }
    }

    /// <summary>Whether libtorch will use oneDNN (mkldnn) kernels, as libtorch itself reports it.</summary>
    public static bool MkldnnEnabled
    {
        get
        {
            EnsureConfigured();
            return !OperatingSystem.IsLinux() || UserEnabledMkldnn(GlobalContext());
        }
    }

    /// <summary>
    /// Called with a network's layer widths before it runs: switches oneDNN off for the process when a width is not a
    /// multiple of <see cref="SafeChannelMultiple"/> (unless <c>UNETCLUSTER_MKLDNN=1</c>). Returns whether it is on.
    /// </summary>
    public static bool RequireCorrectConvolutions(IEnumerable<long> layerWidths)
    {
        ArgumentNullException.ThrowIfNull(layerWidths);
        EnsureConfigured();
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable(MkldnnVariable) == "1")
        {
            return MkldnnEnabled;
        }

        if (layerWidths.Any(w => w % SafeChannelMultiple != 0))
        {
            SetUserEnabledMkldnn(GlobalContext(), false); // idempotent; only ever switched off
        }

        return MkldnnEnabled;
    }

    private static bool Configure()
    {
        _ = get_num_threads(); // loads libtorch through TorchSharp's own probing, so the imports below resolve to it
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        SetUserEnabledNnpack(GlobalContext(), false);
        if (Environment.GetEnvironmentVariable(MkldnnVariable) == "0")
        {
            SetUserEnabledMkldnn(GlobalContext(), false);
        }

        return true;
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnvironment(string name, string value, int overwrite);

    [LibraryImport("torch_cpu", EntryPoint = "_ZN2at13globalContextEv")]
    private static partial IntPtr GlobalContext();

    [LibraryImport("torch_cpu", EntryPoint = "_ZN2at7Context20setUserEnabledMkldnnEb")]
    private static partial void SetUserEnabledMkldnn(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    [LibraryImport("torch_cpu", EntryPoint = "_ZN2at7Context20setUserEnabledNNPACKEb")]
    private static partial void SetUserEnabledNnpack(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    [LibraryImport("torch_cpu", EntryPoint = "_ZNK2at7Context17userEnabledMkldnnEv")]
    [return: MarshalAs(UnmanagedType.U1)]
    private static partial bool UserEnabledMkldnn(IntPtr context);
}
