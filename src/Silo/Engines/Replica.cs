using System.Runtime.InteropServices;
using UNetCluster.Contracts.Jobs;
using UNetCluster.Data.DataSets;
using UNetCluster.Model.Optimization;
using UNetCluster.Model.Training;
using static TorchSharp.torch;

namespace UNetCluster.Silo.Engines;

/// <summary>
/// A silo's copy of a job's model and training data: the gradient engine, the flat parameters as float32 values,
/// and the version (steps applied) those parameters are at; -1 when unknown (a new replica must pull them).
/// </summary>
internal sealed class Replica : IDisposable
{
    private readonly TrainingData _data;

    public Replica(JobSpec spec, TrainingOptions options, LabelledDataSet dataSet)
    {
        Spec = spec;
        Options = options;
        _data = TrainingData.Create(dataSet, options.ValidationSections, options.WeightMap);
        Engine = new GradientEngine(options, _data.Training);
        Parameters = new float[Engine.ParameterCount];
        Gradient = new float[Engine.ParameterCount];
        using var flat = Engine.FlattenParameters();
        ParameterVector.CopyTo(flat, Parameters);
    }

    public JobSpec Spec { get; }

    public TrainingOptions Options { get; }

    public GradientEngine Engine { get; }

    /// <summary>The replica's parameters; after changing them, call <see cref="AssignParameters"/>.</summary>
    public float[] Parameters { get; }

    /// <summary>The last gradient, copied out of the engine for sending.</summary>
    public float[] Gradient { get; }

    public long Version { get; set; } = -1;

    public long ParameterCount => Parameters.Length;

    /// <summary>Copies <see cref="Parameters"/> into the model.</summary>
    public void AssignParameters()
    {
        using var scope = NewDisposeScope();
        Engine.AssignParameters(tensor(Parameters));
    }

    /// <summary>Refreshes <see cref="Parameters"/> from the model (after loading a state dict).</summary>
    public void ReadParameters()
    {
        using var flat = Engine.FlattenParameters();
        ParameterVector.CopyTo(flat, Parameters);
    }

    /// <summary>A range of a float vector as the bytes of a message.</summary>
    public static byte[] Bytes(float[] values, long offset, long length) =>
        MemoryMarshal.AsBytes(values.AsSpan((int)offset, (int)length)).ToArray();

    public void Dispose()
    {
        Engine.Dispose();
        _data.Dispose();
    }
}
