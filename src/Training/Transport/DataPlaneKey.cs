using System.Security.Cryptography;
using System.Text;
using UNetCluster.Training.Settings;

namespace UNetCluster.Training.Transport;

/// <summary>
/// The key both ends of a data-plane connection prove they hold (<see cref="DataPlaneHandshake"/>): the UTF-8 bytes of
/// <see cref="ClusterSettings.DataPlaneSecret"/>. Without one, a silo with localhost clustering (one process: the
/// embedded <c>unet train</c>, a one-silo cluster) uses a random key of its process, which no other process can hold;
/// a silo that other processes reach (Redis or Azure Table clustering, Kubernetes) refuses to start with the data plane on, rather
/// than serve buckets to anyone or quietly fall back to the slower grain messages. Never printed.
/// </summary>
public sealed class DataPlaneKey
{
    public const string Setting = "UNetCluster:Cluster:DataPlaneSecret";

    /// <summary>The shortest secret accepted: a guessable one would make the handshake a formality.</summary>
    public const int MinimumLength = 16;

    // One per process, so that the silos of one process (an in-process test cluster) reach each other's data planes.
    private static readonly byte[] ProcessKey = RandomNumberGenerator.GetBytes(32);

    private readonly byte[] _bytes;

    /// <summary>The key of <paramref name="cluster"/>'s secret; throws, naming the setting, where one is required and missing or too short.</summary>
    public DataPlaneKey(ClusterSettings cluster)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        var secret = cluster.DataPlaneSecret;
        if (!cluster.DataPlane)
        {
            _bytes = ProcessKey;   // nothing is served or sent: nothing to check
            return;
        }

        if (string.IsNullOrEmpty(secret))
        {
            if (cluster.Clustering != ClusteringKind.Localhost || cluster.Kubernetes)
            {
                throw new InvalidOperationException(
                    $"{Setting} is not set. The data plane (UNetCluster:Cluster:DataPlane) of a silo that other processes reach serves " +
                    $"only peers that prove they know the cluster's secret: set the same secret of at least {MinimumLength} characters " +
                    "on every silo (e.g. from `openssl rand -hex 32`; deploy/k8s reads it from the Secret unetcluster-secrets, key " +
                    "data-plane-secret), or turn the data plane off (UNetCluster:Cluster:DataPlane=false).");
            }

            _bytes = ProcessKey;
            return;
        }

        if (secret.Length < MinimumLength)
        {
            throw new InvalidOperationException($"{Setting} is {secret.Length} characters long; at least {MinimumLength} are required (e.g. from `openssl rand -hex 32`).");
        }

        _bytes = Encoding.UTF8.GetBytes(secret);
    }

    /// <summary>HMAC-SHA256 of <paramref name="message"/> under this key.</summary>
    internal byte[] Mac(ReadOnlySpan<byte> message) => HMACSHA256.HashData(_bytes, message);

    public override string ToString() => "DataPlaneKey (not shown)";
}
