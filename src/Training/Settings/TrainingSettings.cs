using UNetCluster.Data.DataSets;
using UNetCluster.Data.Imaging;

namespace UNetCluster.Training.Settings;

/// <summary>How silos find each other.</summary>
public enum ClusteringKind
{
    /// <summary>One silo on this machine (the embedded default).</summary>
    Localhost,

    /// <summary>Membership in Redis (Microsoft.Orleans.Clustering.Redis): several processes or machines.</summary>
    Redis,

    /// <summary>
    /// Membership in an Azure Storage table (Microsoft.Orleans.Clustering.AzureStorage), for a cluster that has Azure
    /// storage already and no Redis; Azurite serves tables too.
    /// </summary>
    AzureTable,
}

/// <summary>
/// The cluster part of the silo's configuration (section <c>UNetCluster:Cluster</c>). Printing it shows neither the
/// data-plane secret nor the Redis connection string.
/// </summary>
public sealed record ClusterSettings
{
    public string ClusterId { get; init; } = "unetcluster";

    public string ServiceId { get; init; } = "unetcluster";

    public ClusteringKind Clustering { get; init; } = ClusteringKind.Localhost;

    /// <summary>StackExchange.Redis connection string, with <see cref="ClusteringKind.Redis"/>.</summary>
    public string? Redis { get; init; }

    /// <summary>
    /// With <see cref="ClusteringKind.AzureTable"/>: an Azure Storage connection string whose account serves the
    /// membership table (Azurite's with a <c>TableEndpoint</c> works). Or set <see cref="AzureTableUri"/>.
    /// </summary>
    public string? AzureTable { get; init; }

    /// <summary>
    /// With <see cref="ClusteringKind.AzureTable"/>, instead of <see cref="AzureTable"/>: the account's table service URI
    /// (<c>https://{account}.table.core.windows.net</c>), reached with Azure.Identity's default credential chain
    /// (workload identity on AKS, a managed identity, environment variables, a developer's sign-in).
    /// </summary>
    public string? AzureTableUri { get; init; }

    /// <summary>The membership table's name (Orleans' default); clusters told apart by <see cref="ClusterId"/> may share it.</summary>
    public string AzureTableName { get; init; } = "OrleansSiloInstances";

    public int SiloPort { get; init; } = 11111;

    public int GatewayPort { get; init; } = 30000;

    /// <summary>The address other silos and clients reach this one at (default: loopback).</summary>
    public string AdvertisedAddress { get; init; } = "127.0.0.1";

    /// <summary>
    /// Whether gradient and parameter buckets between silos go through the data plane (a TCP connection per request in
    /// flight, read and written in large blocks straight to and from the arrays) instead of Orleans messages. The step
    /// protocol is the same either way: each request is a local call of the reducer grain on the receiving silo.
    /// </summary>
    public bool DataPlane { get; init; } = true;

    /// <summary>
    /// The data plane's TCP port, on the address the silo advertises (its pod IP in Kubernetes); 0, the default,
    /// picks a free port, which the silo's reducers tell the workers that ask. Set a fixed one where a firewall or
    /// network policy must name it (deploy/k8s uses 11112).
    /// </summary>
    public int DataPort { get; init; }

    /// <summary>
    /// The secret every silo of the cluster shares for the data plane: a connection is served only once its peer has
    /// proved, by a challenge-response, that it holds the same one (<see cref="Transport.DataPlaneKey"/>). Required
    /// with the data plane on and Redis clustering or Kubernetes; unset with localhost clustering (one process), each
    /// process makes up its own. Never logged or printed.
    /// </summary>
    public string? DataPlaneSecret { get; init; }

    /// <summary>Seconds a membership probe may take; a silo that misses <see cref="MissedProbesLimit"/> in a row is declared dead.</summary>
    public double ProbeTimeoutSeconds { get; init; } = 5;

    public int MissedProbesLimit { get; init; } = 3;

    /// <summary>Seconds a grain call may take before it fails.</summary>
    public double ResponseTimeoutSeconds { get; init; } = 120;

    /// <summary>
    /// Whether the silo runs in a Kubernetes pod (deploy/k8s sets it): Orleans' Kubernetes hosting
    /// (Microsoft.Orleans.Hosting.Kubernetes) then names the silo after POD_NAME, listens on every address, and watches
    /// the silo pods through the in-cluster Kubernetes API (the pod RBAC of deploy/k8s/base/rbac.yaml). Off for local
    /// runs, which have no Kubernetes API.
    /// </summary>
    public bool Kubernetes { get; init; }

    // No secret-bearing value is printed: the data-plane secret, the Redis connection string (it may hold a password),
    // the Azure Table connection string (it holds an account key).
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append(System.Globalization.CultureInfo.InvariantCulture,
            $"ClusterId = {ClusterId}, ServiceId = {ServiceId}, Clustering = {Clustering}, Redis = {Shown(Redis)}, AzureTable = {Shown(AzureTable)}, " +
            $"AzureTableUri = {AzureTableUri ?? "(unset)"}, AzureTableName = {AzureTableName}, " +
            $"SiloPort = {SiloPort}, GatewayPort = {GatewayPort}, AdvertisedAddress = {AdvertisedAddress}, DataPlane = {DataPlane}, " +
            $"DataPort = {DataPort}, DataPlaneSecret = {Shown(DataPlaneSecret)}, ProbeTimeoutSeconds = {ProbeTimeoutSeconds}, " +
            $"MissedProbesLimit = {MissedProbesLimit}, ResponseTimeoutSeconds = {ResponseTimeoutSeconds}, Kubernetes = {Kubernetes}");
        return true;
    }

    private static string Shown(string? secret) => secret is null ? "(unset)" : "(set)";
}

/// <summary>Where the silo keeps job records and checkpoints (section <c>UNetCluster:Storage</c>).</summary>
public sealed record StorageSettings
{
    /// <summary>
    /// A folder shared by every silo of the cluster (the same machine, or a shared volume): job checkpoints go to
    /// <c>{Root}/jobs/{job}/checkpoints</c>. Default: <c>runs/cluster</c> under the working directory.
    /// </summary>
    public string Root { get; init; } = Path.Combine("runs", "cluster");

    /// <summary>Where under <see cref="Root"/> a job's checkpoints go; <c>{job}</c> is replaced by the job id.</summary>
    public string Checkpoints { get; init; } = "jobs/{job}/checkpoints";

    /// <summary>The blob (under <see cref="Root"/> or in <see cref="Container"/>) naming a job's latest checkpoint; written last.</summary>
    public string Latest { get; init; } = "jobs/{job}/latest";

    /// <summary>Checkpoints a job keeps: the last <see cref="KeepLast"/> and the one with the lowest loss.</summary>
    public int KeepLast { get; init; } = 3;

    /// <summary>
    /// An Azure Blob storage connection string (Azurite's works). When set, job records and checkpoints go to the
    /// container <see cref="Container"/> instead of the folder <see cref="Root"/>. Or set <see cref="BlobUri"/>.
    /// </summary>
    public string? Blob { get; init; }

    /// <summary>
    /// Instead of <see cref="Blob"/>: the account's blob service URI (<c>https://{account}.blob.core.windows.net</c>),
    /// reached with Azure.Identity's default credential chain (workload identity on AKS, a managed identity, environment
    /// variables, a developer's sign-in); the identity needs the Storage Blob Data Contributor role on the account.
    /// </summary>
    public string? BlobUri { get; init; }

    /// <summary>Whether job records and checkpoints go to Azure Blob storage (<see cref="Blob"/> or <see cref="BlobUri"/>), not a folder.</summary>
    public bool UsesAzure => !string.IsNullOrWhiteSpace(Blob) || !string.IsNullOrWhiteSpace(BlobUri);

    /// <summary>The blob container of <see cref="Blob"/>; created when missing.</summary>
    public string Container { get; init; } = "unetcluster";
}

/// <summary>One named data set given by its folders.</summary>
public sealed record DataSetFolders
{
    public required string Images { get; init; }

    public required string Masks { get; init; }

    /// <summary>What the masks hold (<c>auto</c>, <c>binary</c> or <c>instances</c>; default auto).</summary>
    public MaskKind MaskKind { get; init; }
}

/// <summary>The data sets jobs may name (section <c>UNetCluster:Data</c>); the bundled <c>isbi2012-em</c> is always one.</summary>
public sealed record DataSettings
{
    /// <summary>A folder whose sub-folders with <c>images/</c> and <c>masks/</c> are data sets named by the sub-folder.</summary>
    public string? Root { get; init; }

    /// <summary>Data sets by name.</summary>
    public Dictionary<string, DataSetFolders> DataSets { get; init; } = [];

    /// <summary>
    /// Where a silo keeps the files of data sets uploaded to the cluster's storage (<c>unet dataset upload</c>), after
    /// checking each file's sha256 against the data set's manifest. Default: <c>unetcluster-data</c> in the temp folder.
    /// </summary>
    public string? Cache { get; init; }

    /// <summary>
    /// The most pixels (width x height) of one image or page the silo decodes, checked from the file's header before
    /// decoding; null for the default (<see cref="ImageLimits.DefaultMaxPixelsPerImage"/>, 16384 x 16384).
    /// </summary>
    public long? MaxImagePixels { get; init; }
}

/// <summary>The training engine of the silo (section <c>UNetCluster:Worker</c>).</summary>
public sealed record WorkerSettings
{
    /// <summary>Threads libtorch uses for this silo's replica; 0 for one per processor.</summary>
    public int Threads { get; init; }

    /// <summary>
    /// Send each gradient bucket while the backward pass goes on, as soon as it is final (true), or all of them after
    /// it (false, the default). Only worth it where the compute leaves the CPU idle (GPU nodes); bench/README.md has
    /// the figures. The values are the same either way.
    /// </summary>
    public bool SendDuringBackward { get; init; }

    /// <summary>
    /// The device this silo's replica computes on: auto (CUDA when libtorch reports it, else the CPU), cpu, cuda or
    /// cuda:N. A silo owns one device: a node with several GPUs runs one silo per GPU. A CUDA device libtorch cannot
    /// reach stops the silo at start with the package and driver it needs.
    /// </summary>
    public string Device { get; init; } = "auto";

    /// <summary>The configuration key of <see cref="Device"/>, as errors name it.</summary>
    public const string DeviceKey = "UNetCluster:Worker:Device";
}
