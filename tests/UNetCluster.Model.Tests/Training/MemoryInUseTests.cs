using UNetCluster.Model.Training;
using static TorchSharp.torch;

namespace UNetCluster.Model.Tests.Training;

/// <summary>
/// The memory a worker reports with its steps: the kernel's resident set size of the whole process, so it sees
/// libtorch's native tensors, not only the managed heap. (A before/after difference is not asserted: other tests in
/// this process allocate and free at the same time.)
/// </summary>
public sealed class MemoryInUseTests
{
    [Fact]
    public void Bytes_WhileLibtorchHoldsA256MiBTensor_IsTheKernelsRssAndCountsTheTensor()
    {
        const long size = 256L << 20;
        using var tensor = ones(size / sizeof(float), dtype: ScalarType.Float32);   // written, so its pages are resident

        var reported = MemoryInUse.Bytes();
        var kernel = long.Parse(File.ReadAllText("/proc/self/statm").Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture) * Environment.SystemPageSize;

        Assert.True(reported >= size, $"RSS {reported >> 20} MiB while a 256 MiB tensor is held");
        Assert.True(Math.Abs(reported - kernel) < (64L << 20), $"reported {reported >> 20} MiB, /proc/self/statm {kernel >> 20} MiB");
    }
}
