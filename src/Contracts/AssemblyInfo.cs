namespace UNetCluster.Contracts;

/// <summary>Marker for the contracts assembly; grain interfaces and messages arrive with the cluster issue.</summary>
public static class ContractsAssembly
{
    public const string Name = "UNetCluster.Contracts";
}
