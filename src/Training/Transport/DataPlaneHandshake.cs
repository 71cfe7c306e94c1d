using System.Buffers.Binary;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Text;

namespace UNetCluster.Training.Transport;

/// <summary>
/// The challenge-response that opens every data-plane connection, before any request: each end proves that it holds
/// the cluster's <see cref="DataPlaneKey"/> without sending it, and a proof is good for this connection only.
/// <code>
/// server: magic u32 ("UDA1") | server nonce (32 random bytes)
/// client: client nonce (32 random bytes) | HMAC-SHA256(key, "UNetCluster data plane 1 client" | server nonce | client nonce | endpoint)
/// server: Ok u8 | HMAC-SHA256(key, "UNetCluster data plane 1 server" | server nonce | client nonce | endpoint)
///      or Error u8 | message length u16 | message (UTF-8), and it closes the connection
/// </code>
/// <c>endpoint</c> is the server's data-plane endpoint as its reducers advertise it (<c>address:port</c>, UTF-8). The
/// labels differ per direction, so neither proof can be replayed as the other; proofs are compared in constant time.
/// The bytes after the handshake are not encrypted or authenticated (no TLS): the data port still needs the network
/// isolation of the silo port (deploy/k8s/base/networkpolicy.yaml).
/// </summary>
internal static class DataPlaneHandshake
{
    public const uint Magic = 0x31414455;   // "UDA1"

    public const int NonceBytes = 32;

    public const int MacBytes = 32;

    /// <summary>The server's opening: magic and nonce.</summary>
    public const int HelloBytes = 4 + NonceBytes;

    /// <summary>The client's answer: its nonce and its proof.</summary>
    public const int ProofBytes = NonceBytes + MacBytes;

    /// <summary>How long a new connection may take to prove itself; idle unauthenticated sockets are closed after it.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The server's half on a new connection: sends the challenge, reads exactly the answer and checks it. True: the peer
    /// holds the key, and the server's own proof has been sent. False: it does not (or sent something else); nothing
    /// more has been read, and the caller refuses the connection.
    /// </summary>
    public static async Task<bool> AcceptAsync(Stream stream, DataPlaneKey key, string endpoint, CancellationToken cancellationToken)
    {
        var hello = new byte[HelloBytes];
        BinaryPrimitives.WriteUInt32LittleEndian(hello, Magic);
        RandomNumberGenerator.Fill(hello.AsSpan(4));
        await stream.WriteAsync(hello, cancellationToken).ConfigureAwait(false);

        var answer = new byte[ProofBytes];
        await DataPlaneFrames.ReadExactlyAsync(stream, answer, cancellationToken).ConfigureAwait(false);
        if (!CryptographicOperations.FixedTimeEquals(Proof(key, ClientLabel, hello, answer, endpoint), answer.AsSpan(NonceBytes)))
        {
            return false;
        }

        byte[] reply = [DataPlaneFrames.Ok, .. Proof(key, ServerLabel, hello, answer, endpoint)];
        await stream.WriteAsync(reply, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// The client's half on a new connection to <paramref name="endpoint"/>. Throws <see cref="AuthenticationException"/>
    /// when the server refuses this end's proof (the secrets differ) or its own proof is wrong.
    /// </summary>
    public static async Task AuthenticateAsync(Stream stream, DataPlaneKey key, string endpoint, CancellationToken cancellationToken)
    {
        var hello = new byte[HelloBytes];
        await DataPlaneFrames.ReadExactlyAsync(stream, hello, cancellationToken).ConfigureAwait(false);
        var magic = BinaryPrimitives.ReadUInt32LittleEndian(hello);
        if (magic != Magic)
        {
            throw new InvalidDataException($"{endpoint} is not a data plane (it opened with {magic:x8}).");
        }

        var answer = Answer(key, hello, endpoint);
        await stream.WriteAsync(answer, cancellationToken).ConfigureAwait(false);

        var status = new byte[1 + MacBytes];
        await DataPlaneFrames.ReadExactlyAsync(stream, status.AsMemory(0, 1), cancellationToken).ConfigureAwait(false);
        if (status[0] == DataPlaneFrames.Error)
        {
            var message = await DataPlaneFrames.ReadStringAsync(stream, new byte[DataPlaneFrames.MaxMessageBytes], DataPlaneFrames.MaxMessageBytes, "error message", cancellationToken).ConfigureAwait(false);
            throw new AuthenticationException(message);
        }

        if (status[0] != DataPlaneFrames.Ok)
        {
            throw new InvalidDataException($"The data plane at {endpoint} answered the handshake with status {status[0]}.");
        }

        await DataPlaneFrames.ReadExactlyAsync(stream, status.AsMemory(1), cancellationToken).ConfigureAwait(false);
        if (!CryptographicOperations.FixedTimeEquals(Proof(key, ServerLabel, hello, answer, endpoint), status.AsSpan(1)))
        {
            throw new AuthenticationException(
                $"The data plane at {endpoint} did not prove that it knows the cluster's secret ({DataPlaneKey.Setting} differs between the silos).");
        }
    }

    /// <summary>A client's answer to the server's <paramref name="hello"/>: a fresh nonce and its proof under <paramref name="key"/>.</summary>
    internal static byte[] Answer(DataPlaneKey key, ReadOnlySpan<byte> hello, string endpoint)
    {
        var answer = new byte[ProofBytes];
        RandomNumberGenerator.Fill(answer.AsSpan(0, NonceBytes));
        Proof(key, ClientLabel, hello, answer, endpoint).CopyTo(answer, NonceBytes);
        return answer;
    }

    private static ReadOnlySpan<byte> ClientLabel => "UNetCluster data plane 1 client"u8;

    private static ReadOnlySpan<byte> ServerLabel => "UNetCluster data plane 1 server"u8;

    /// <summary>HMAC-SHA256(key, label | server nonce | client nonce | endpoint), the nonces read from the server's hello and the client's answer.</summary>
    private static byte[] Proof(DataPlaneKey key, ReadOnlySpan<byte> label, ReadOnlySpan<byte> hello, ReadOnlySpan<byte> answer, string endpoint)
    {
        var serverNonce = hello.Slice(4, NonceBytes);
        var clientNonce = answer[..NonceBytes];
        var message = new byte[label.Length + serverNonce.Length + clientNonce.Length + Encoding.UTF8.GetByteCount(endpoint)];
        label.CopyTo(message);
        serverNonce.CopyTo(message.AsSpan(label.Length));
        clientNonce.CopyTo(message.AsSpan(label.Length + serverNonce.Length));
        Encoding.UTF8.GetBytes(endpoint, message.AsSpan(label.Length + serverNonce.Length + clientNonce.Length));
        return key.Mac(message);
    }
}
