namespace UNetCluster.Data.Imaging;

/// <summary>
/// The two checksums a PNG carries: CRC-32 over each chunk's type and data (ISO 3309 / ITU-T V.42, the one zip and
/// Ethernet use) and Adler-32 over the decompressed image data (RFC 1950, the zlib trailer). System.IO.Hashing is
/// not part of the shared framework, so the CRC is the classic byte-at-a-time table (reflected polynomial 0xEDB88320).
/// </summary>
internal static class Checksums
{
    private const uint AdlerModulus = 65521;

    // The largest n for which 255 n (n + 1) / 2 + (n + 1) (AdlerModulus - 1) stays below 2^32: the Adler sums may
    // run this many bytes between reductions (zlib's NMAX).
    private const int AdlerBlock = 5552;

    private static readonly uint[] CrcTable = MakeCrcTable();

    /// <summary>The CRC-32 of <paramref name="data"/>.</summary>
    public static uint Crc32(ReadOnlySpan<byte> data) => ~UpdateCrc32(0xFFFFFFFFu, data);

    /// <summary>The CRC-32 of <paramref name="first"/> followed by <paramref name="second"/>, without copying them.</summary>
    public static uint Crc32(ReadOnlySpan<byte> first, ReadOnlySpan<byte> second) =>
        ~UpdateCrc32(UpdateCrc32(0xFFFFFFFFu, first), second);

    /// <summary>Adler-32 of the bytes seen so far; start from 1 (the checksum of no bytes).</summary>
    public static uint UpdateAdler32(uint adler, ReadOnlySpan<byte> data)
    {
        uint a = adler & 0xFFFF, b = adler >> 16;
        while (data.Length > 0)
        {
            var block = data[..Math.Min(data.Length, AdlerBlock)];
            foreach (var value in block)
            {
                a += value;
                b += a;
            }

            a %= AdlerModulus;
            b %= AdlerModulus;
            data = data[block.Length..];
        }

        return (b << 16) | a;
    }

    private static uint UpdateCrc32(uint crc, ReadOnlySpan<byte> data)
    {
        foreach (var value in data)
        {
            crc = CrcTable[(crc ^ value) & 0xFF] ^ (crc >> 8);
        }

        return crc;
    }

    private static uint[] MakeCrcTable()
    {
        var table = new uint[256];
        for (var n = 0u; n < 256; n++)
        {
            var c = n;
            for (var k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }

            table[n] = c;
        }

        return table;
    }
}
