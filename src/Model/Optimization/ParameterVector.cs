using TorchSharp.Modules;
using static TorchSharp.torch;

namespace UNetCluster.Model.Optimization;

/// <summary>
/// Moves a model's parameters and gradients to and from one flat float32 vector, in the order of
/// <c>parameters()</c> (which is the state-dict order). The flat vector is what optimizers and reducers work on.
/// </summary>
public static class ParameterVector
{
    /// <summary>Total number of values in the parameters.</summary>
    public static long Length(IEnumerable<Parameter> parameters) => parameters.Sum(p => p.numel());

    /// <summary>A new flat copy of the parameter values.</summary>
    public static Tensor Flatten(IReadOnlyList<Parameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return cat(parameters.Select(p => p.detach().reshape(-1)).ToList(), 0).MoveToOuterDisposeScope();
    }

    /// <summary>Copies the parameter values into an existing flat vector (cast to its type; it may be on another device).</summary>
    public static void CopyValues(IReadOnlyList<Parameter> parameters, Tensor destination)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(destination);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        long offset = 0;
        foreach (var parameter in parameters)
        {
            var count = parameter.numel();
            destination.narrow(0, offset, count).copy_(parameter.detach().reshape(-1));
            offset += count;
        }
    }

    /// <summary>Copies the gradients into an existing flat vector (zeros for a parameter that has none).</summary>
    public static void CopyGradients(IReadOnlyList<Parameter> parameters, Tensor destination) =>
        CopyGradients(parameters, destination, 0, parameters?.Count ?? 0);

    /// <summary>
    /// Copies the gradients of parameters [<paramref name="first"/>, <paramref name="end"/>) into their places in an
    /// existing flat vector of all the parameters (zeros for a parameter that has none).
    /// </summary>
    public static void CopyGradients(IReadOnlyList<Parameter> parameters, Tensor destination, int first, int end)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentOutOfRangeException.ThrowIfNegative(first);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(end, parameters.Count);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var offset = Length(parameters.Take(first));
        foreach (var parameter in parameters.Skip(first).Take(end - first))
        {
            var count = parameter.numel();
            var slice = destination.narrow(0, offset, count);
            if (parameter.grad is { } grad)
            {
                slice.copy_(grad.reshape(-1));
            }
            else
            {
                slice.zero_();
            }

            offset += count;
        }
    }

    /// <summary>Copies a flat vector back into the parameters.</summary>
    public static void Assign(IReadOnlyList<Parameter> parameters, Tensor flat)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(flat);
        var expected = Length(parameters);
        if (flat.numel() != expected)
        {
            throw new ArgumentException($"The flat vector has {flat.numel()} values; the parameters need {expected}.", nameof(flat));
        }

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        long offset = 0;
        foreach (var parameter in parameters)
        {
            var count = parameter.numel();
            parameter.copy_(flat.narrow(0, offset, count).view(parameter.shape));
            offset += count;
        }
    }

    /// <summary>
    /// Copies a contiguous float32 CPU tensor into <paramref name="destination"/> with one memory copy (TorchSharp's
    /// element accessor is far slower for vectors of millions of values).
    /// </summary>
    public static void CopyTo(Tensor source, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (source.dtype != ScalarType.Float32 || !source.is_contiguous() || source.numel() != destination.Length)
        {
            throw new ArgumentException($"Expected a contiguous float32 CPU tensor of {destination.Length} values; got {source.dtype} with {source.numel()}.", nameof(source));
        }

        System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(source.bytes).CopyTo(destination);
    }
}
