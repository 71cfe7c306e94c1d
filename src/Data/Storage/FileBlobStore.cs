using System.Security.Cryptography;

namespace UNetCluster.Data.Storage;

/// <summary>
/// Blobs as files under a local folder (the embedded default; also a folder shared by processes on one machine).
/// A write goes to a temporary file that is flushed and renamed over the blob, so a reader sees the old content or
/// the new, never a torn file. The ETag is a hash of the content. Writes and deletes hold an exclusive lock on
/// <c>.blobstore/lock</c> (an OS file lock, so processes on the same machine exclude each other too) from the check
/// of their condition to the rename: compare-and-swap is real. A blob cannot also be a "folder" of other blobs
/// (<c>a</c> and <c>a/b</c>), which Azure allows.
/// </summary>
public sealed class FileBlobStore : IBlobStore
{
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(60);
    private readonly string _internal;

    public FileBlobStore(string root)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(root);
        Root = Path.GetFullPath(root);
        _internal = Path.Combine(Root, BlobNames.ReservedPrefix);
    }

    /// <summary>The folder holding the blobs.</summary>
    public string Root { get; }

    public string Describe(string name) => name.Length == 0 ? Root : PathOf(BlobNames.ValidatePrefix(name).TrimEnd('/'));

    public Task<BlobContent?> ReadAsync(string name, CancellationToken cancellationToken = default)
    {
        var path = PathOf(BlobNames.Validate(name));
        cancellationToken.ThrowIfCancellationRequested();
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return Task.FromResult<BlobContent?>(null);
        }

        return Task.FromResult<BlobContent?>(new BlobContent(bytes, ETagOf(bytes)));
    }

    public Task<IReadOnlyList<BlobItem>> ListAsync(string prefix, CancellationToken cancellationToken = default)
    {
        BlobNames.ValidatePrefix(prefix);
        var slash = prefix.LastIndexOf('/');
        var start = slash < 0 ? Root : PathOf(prefix[..slash]);
        if (!Directory.Exists(start))
        {
            return Task.FromResult<IReadOnlyList<BlobItem>>([]);
        }

        var items = new List<BlobItem>();
        foreach (var file in new DirectoryInfo(start).EnumerateFiles("*", SearchOption.AllDirectories))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var name = Path.GetRelativePath(Root, file.FullName).Replace(Path.DirectorySeparatorChar, '/');
            if (!name.StartsWith(BlobNames.ReservedPrefix, StringComparison.Ordinal) && name.StartsWith(prefix, StringComparison.Ordinal))
            {
                items.Add(new BlobItem(name, file.Length));
            }
        }

        items.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return Task.FromResult<IReadOnlyList<BlobItem>>(items);
    }

    public async Task<bool> DeleteAsync(string name, CancellationToken cancellationToken = default)
    {
        var path = PathOf(BlobNames.Validate(name));
        using var held = await LockAsync(cancellationToken).ConfigureAwait(false);
        if (!File.Exists(path))
        {
            return false;
        }

        File.Delete(path);
        RemoveEmptyFolders(Path.GetDirectoryName(path)!);
        return true;
    }

    public async Task<string> WriteAsync(string name, ReadOnlyMemory<byte> content, BlobCondition condition, CancellationToken cancellationToken = default)
    {
        var path = PathOf(BlobNames.Validate(name));
        var etag = ETagOf(content.Span);
        using var held = await LockAsync(cancellationToken).ConfigureAwait(false);
        switch (condition.Kind)
        {
            case BlobConditionKind.IfAbsent when File.Exists(path):
                throw new BlobConflictException(name, condition);
            case BlobConditionKind.IfMatch when !File.Exists(path) || ETagOf(File.ReadAllBytes(path)) != condition.ETag:
                throw new BlobConflictException(name, condition);
        }

        var temporary = Path.Combine(_internal, "tmp", $"{Guid.NewGuid():N}.tmp");
        Directory.CreateDirectory(Path.GetDirectoryName(temporary)!);
        try
        {
            await using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20, FileOptions.Asynchronous))
            {
                await stream.WriteAsync(content, cancellationToken).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }

            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }

        return etag;
    }

    private string PathOf(string name) => Path.Combine(Root, name.Replace('/', Path.DirectorySeparatorChar));

    private static string ETagOf(ReadOnlySpan<byte> content) => Convert.ToHexStringLower(SHA256.HashData(content))[..32];

    private void RemoveEmptyFolders(string folder)
    {
        while (folder.Length > Root.Length && folder.StartsWith(Root, StringComparison.Ordinal) && !Directory.EnumerateFileSystemEntries(folder).Any())
        {
            Directory.Delete(folder);
            folder = Path.GetDirectoryName(folder)!;
        }
    }

    /// <summary>Takes the OS lock on the lock file, which excludes other writers of this store, in this process or another.</summary>
    private async Task<IDisposable> LockAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(_internal);
        var lockPath = Path.Combine(_internal, "lock");
        var deadline = DateTime.UtcNow + LockTimeout;
        while (true)
        {
            try
            {
                return new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(2, cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
