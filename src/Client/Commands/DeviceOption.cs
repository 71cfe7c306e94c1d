using System.CommandLine;
using UNetCluster.Model.Training;

namespace UNetCluster.Client.Commands;

/// <summary><c>--device</c>, the one definition that train and predict share; resolved by <see cref="ComputeDevice"/>.</summary>
internal sealed class DeviceOption
{
    public Option<string?> Option { get; } = Choices.Device($"Where forward and backward run: {ComputeDevice.Accepted} (default auto: CUDA when libtorch reports it, else the CPU).");

    /// <summary>The device asked for; one libtorch cannot reach is refused naming the option, the package and the driver.</summary>
    public ComputeDevice Resolve(ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        return ComputeDevice.Resolve(parse.GetValue(Option));
    }
}
