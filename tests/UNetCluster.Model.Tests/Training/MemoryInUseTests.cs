using UNetCluster.Model.Training;
using static TorchSharp.torch;

namespace UNetCluster.Model.Tests.Training;

/// <summary>The memory a worker reports with its steps: it must see libtorch's native tensors, not only the managed heap.</summary>
public sealed class MemoryInUseTests
{
    [Fact]
    public void Bytes_AfterLibtorchFillsA256MiBTensor_RisesByAboutThatMuch()
    {
        const long size = 256L << 20;
        var before = MemoryInUse.Bytes();
        using var tensor = ones(size / sizeof(float), dtype: ScalarType.Float32);   // written, so its pages are resident (a fresh mmap: above malloc's threshold)
        var after = MemoryInUse.Bytes();

        Assert.True(after - before >= size * 9 / 10, $"RSS rose by {(after - before) >> 20} MiB for a 256 MiB tensor");
    }
}
