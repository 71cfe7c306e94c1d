using TorchSharp;
using UNetCluster.Model.Training;
using static TorchSharp.torch;

namespace UNetCluster.Model.Tests.Training;

/// <summary>The one rule that picks a process's device (<c>--device</c>, <c>UNetCluster:Worker:Device</c>), on a machine whose libtorch has no CUDA.</summary>
public sealed class ComputeDeviceTests
{
    [Theory]
    [InlineData("cuda")]
    [InlineData("cuda:0")]
    [InlineData("CUDA:1")]
    public void Resolve_CudaWhereLibtorchHasNone_IsRefusedNamingThePackageAndTheDriver(string requested)
    {
        Assert.SkipWhen(cuda.is_available(), "this libtorch reaches a CUDA device");
        var e = Assert.Throws<ArgumentException>(() => ComputeDevice.Resolve(requested));
        Assert.StartsWith("--device cuda", e.Message, StringComparison.Ordinal);
        Assert.Contains("TorchSharp-cuda-linux", e.Message, StringComparison.Ordinal);
        Assert.Contains("-p:UNetGpu=true", e.Message, StringComparison.Ordinal);
        Assert.Contains("driver", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_AutoWhereLibtorchHasNoCuda_TakesTheCpuAndSaysWhy()
    {
        Assert.SkipWhen(cuda.is_available(), "this libtorch reaches a CUDA device");
        foreach (var auto in new[] { null, "", "auto", "AUTO" })
        {
            var device = ComputeDevice.Resolve(auto);
            Assert.Equal(DeviceType.CPU, device.Device.type);
            Assert.Equal("cpu (auto: libtorch reports no CUDA device)", device.Description);
        }
    }

    [Theory]
    [InlineData("gpu")]
    [InlineData("cuda:")]
    [InlineData("cuda:-1")]
    [InlineData("cuda:x")]
    [InlineData("cpu:0")]
    public void Resolve_UnknownName_IsRefusedWithTheAcceptedNames(string requested)
    {
        var e = Assert.Throws<ArgumentException>(() => ComputeDevice.Resolve(requested, "UNetCluster:Worker:Device"));
        Assert.StartsWith($"UNetCluster:Worker:Device '{requested}' is unknown: expected auto, cpu, cuda or cuda:N", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_Cpu_IsTheHost()
    {
        var device = ComputeDevice.Resolve(" cpu ");
        Assert.Equal((DeviceType.CPU, "cpu", "cpu"), (device.Device.type, device.Name, device.Description));
    }
}
