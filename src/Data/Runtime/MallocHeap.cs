using System.Runtime.InteropServices;

namespace UNetCluster.Data.Runtime;

/// <summary>
/// The native heap of glibc's malloc, which libtorch's host tensors live in and which the silos tune
/// (<c>GLIBC_TUNABLES=glibc.malloc.hugetlb=1:glibc.malloc.arena_max=1</c>, bench/README.md): bytes handed out and not
/// freed, and bytes held from the system, from <c>mallinfo2</c> (glibc 2.33 and later). Null where the C library is not
/// glibc or too old (musl, macOS, Windows).
/// </summary>
public static partial class MallocHeap
{
    private static bool _unavailable = !OperatingSystem.IsLinux();

    /// <summary>(in use, held) in bytes now, or null where mallinfo2 is not there.</summary>
    public static (long InUse, long Held)? Read()
    {
        if (_unavailable)
        {
            return null;
        }

        try
        {
            var info = MallInfo2();
            // uordblks: allocated from the arenas; hblkhd: mmapped chunks (large tensors); arena: the arenas' size.
            return ((long)(info.Uordblks + info.Hblkhd), (long)(info.Arena + info.Hblkhd));
        }
        catch (EntryPointNotFoundException)
        {
            _unavailable = true;
            return null;
        }
        catch (DllNotFoundException)
        {
            _unavailable = true;
            return null;
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private readonly struct MallInfo
    {
        public readonly nuint Arena;
        public readonly nuint Ordblks;
        public readonly nuint Smblks;
        public readonly nuint Hblks;
        public readonly nuint Hblkhd;
        public readonly nuint Usmblks;
        public readonly nuint Fsmblks;
        public readonly nuint Uordblks;
        public readonly nuint Fordblks;
        public readonly nuint Keepcost;
    }

    [LibraryImport("libc", EntryPoint = "mallinfo2")]
    private static partial MallInfo MallInfo2();
}
