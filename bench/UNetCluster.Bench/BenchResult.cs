using System.Text.Json;

namespace UNetCluster.Bench;

/// <summary>
/// One configuration's figures: the JSON line both bench sides print (snake_case keys; bench/run.sh reads them).
/// </summary>
/// <param name="Framework">"torchsharp" or "pytorch".</param>
/// <param name="Version">Library versions.</param>
/// <param name="BaseChannels">Channels of the first level.</param>
/// <param name="Depth">Down-samplings.</param>
/// <param name="Tile">Input tile size.</param>
/// <param name="Output">Output (label) size.</param>
/// <param name="Batch">Tiles per step.</param>
/// <param name="Precision">"fp32" or "bf16": the number format of forward and backward (master weights and optimizer fp32 either way).</param>
/// <param name="Parameters">Trainable parameters; equal on both sides for the same plan.</param>
/// <param name="Optimizer">"adam" or "sgd".</param>
/// <param name="Lr">Learning rate.</param>
/// <param name="Threads">Intra-op threads, as libtorch reports them after setting.</param>
/// <param name="Mkldnn">Whether libtorch may use oneDNN (mkldnn) kernels.</param>
/// <param name="Warmup">Untimed steps before the timed ones.</param>
/// <param name="Steps">Timed steps.</param>
/// <param name="MedianS">Median seconds per step.</param>
/// <param name="MinS">Fastest step, seconds.</param>
/// <param name="UpdateMedianS">Median seconds of the update alone: optimizer step (and, on our side, flattening and
/// checking the gradient and assigning the parameters back), the rest of a step being forward, loss and backward.</param>
/// <param name="TilesPerS">Batch / median seconds.</param>
/// <param name="PeakRssMb">Peak resident set of the process (VmHWM), MiB.</param>
/// <param name="FirstLoss">Loss of the first timed step.</param>
/// <param name="LastLoss">Loss of the last timed step (Adam on one fixed tile: it should fall).</param>
/// <param name="StepTimesS">Every timed step, seconds.</param>
public sealed record BenchResult(
    string Framework,
    string Version,
    int BaseChannels,
    int Depth,
    int Tile,
    int Output,
    int Batch,
    string Precision,
    long Parameters,
    string Optimizer,
    double Lr,
    int Threads,
    bool Mkldnn,
    int Warmup,
    int Steps,
    double MedianS,
    double MinS,
    double UpdateMedianS,
    double TilesPerS,
    double PeakRssMb,
    double FirstLoss,
    double LastLoss,
    IReadOnlyList<double> StepTimesS)
{
    private static readonly JsonSerializerOptions JsonOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public string ToJsonLine() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>The median of the step times (the mean of the middle two for an even count).</summary>
    public static double Median(IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var sorted = values.Order().ToArray();
        var middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }
}
