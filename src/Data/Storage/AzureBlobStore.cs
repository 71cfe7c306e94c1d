using Azure;
using Azure.Core;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;

namespace UNetCluster.Data.Storage;

/// <summary>
/// Blobs in an Azure Blob Storage container (or Azurite), optionally under a name prefix. ETags are the service's;
/// conditions map to <c>If-None-Match: *</c> and <c>If-Match</c>, so compare-and-swap holds across machines. The
/// container is created on first write.
/// </summary>
public sealed class AzureBlobStore : IBlobStore
{
    /// <summary>
    /// The REST API version the client speaks, pinned so that Azurite accepts it: Azurite 3.37.0 (tools/azurite)
    /// serves up to 2026-06-06, and Azure serves it too. A newer SDK default would make Azurite refuse every request
    /// unless it runs with <c>--skipApiVersionCheck</c>.
    /// </summary>
    public const BlobClientOptions.ServiceVersion PinnedServiceVersion = BlobClientOptions.ServiceVersion.V2026_06_06;

    private readonly BlobContainerClient _container;
    private readonly string _prefix;
    private Task? _created;

    public AzureBlobStore(BlobContainerClient container, string prefix = "")
    {
        ArgumentNullException.ThrowIfNull(container);
        _container = container;
        _prefix = prefix.Length == 0 ? "" : BlobNames.ValidatePrefix(prefix).TrimEnd('/') + "/";
    }

    /// <summary>A store on the container <paramref name="containerName"/> of the account a connection string names.</summary>
    public static AzureBlobStore Connect(string connectionString, string containerName, string prefix = "", int maxRetries = 3)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        ArgumentException.ThrowIfNullOrWhiteSpace(containerName);
        return new AzureBlobStore(new BlobContainerClient(connectionString, containerName, CreateOptions(maxRetries)), prefix);
    }

    /// <summary>
    /// A store on the container <paramref name="containerName"/> of the account whose blob service is
    /// <paramref name="serviceUri"/> (<c>https://{account}.blob.core.windows.net</c>), authenticated by
    /// <paramref name="credential"/> (<see cref="AzureIdentity.DefaultCredential"/> for the silos).
    /// </summary>
    public static AzureBlobStore Connect(Uri serviceUri, TokenCredential credential, string containerName, string prefix = "", int maxRetries = 3)
    {
        ArgumentNullException.ThrowIfNull(serviceUri);
        ArgumentNullException.ThrowIfNull(credential);
        ArgumentException.ThrowIfNullOrWhiteSpace(containerName);
        var container = new Uri(serviceUri.AbsoluteUri.TrimEnd('/') + "/" + containerName);
        return new AzureBlobStore(new BlobContainerClient(container, credential, CreateOptions(maxRetries)), prefix);
    }

    /// <summary>Client options with the pinned service version and a bounded retry policy.</summary>
    public static BlobClientOptions CreateOptions(int maxRetries = 3)
    {
        var options = new BlobClientOptions(PinnedServiceVersion);
        options.Retry.MaxRetries = maxRetries;
        options.Retry.Delay = TimeSpan.FromMilliseconds(200);
        options.Retry.MaxDelay = TimeSpan.FromSeconds(5);
        options.Retry.NetworkTimeout = TimeSpan.FromMinutes(5);
        return options;
    }

    public BlobContainerClient Container => _container;

    public string Describe(string name) => $"{_container.Uri.AbsoluteUri.TrimEnd('/')}/{_prefix}{name}";

    public async Task<BlobContent?> ReadAsync(string name, CancellationToken cancellationToken = default)
    {
        var blob = _container.GetBlobClient(_prefix + BlobNames.Validate(name));
        try
        {
            var response = await blob.DownloadContentAsync(cancellationToken).ConfigureAwait(false);
            return new BlobContent(response.Value.Content.ToArray(), response.Value.Details.ETag.ToString());
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
        catch (AggregateException e) when (IsUnreachable(e))
        {
            throw Unreachable(name, e);
        }
    }

    public async Task<IReadOnlyList<BlobItem>> ListAsync(string prefix, CancellationToken cancellationToken = default)
    {
        BlobNames.ValidatePrefix(prefix);
        var items = new List<BlobItem>();
        try
        {
            await foreach (var item in _container.GetBlobsAsync(new GetBlobsOptions { Prefix = _prefix + prefix }, cancellationToken).ConfigureAwait(false))
            {
                items.Add(new BlobItem(item.Name[_prefix.Length..], item.Properties.ContentLength ?? 0));
            }
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return [];
        }
        catch (AggregateException e) when (IsUnreachable(e))
        {
            throw Unreachable(prefix + "*", e);
        }

        items.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return items;
    }

    public async Task<bool> DeleteAsync(string name, CancellationToken cancellationToken = default)
    {
        var blob = _container.GetBlobClient(_prefix + BlobNames.Validate(name));
        try
        {
            var response = await blob.DeleteIfExistsAsync(DeleteSnapshotsOption.IncludeSnapshots, cancellationToken: cancellationToken).ConfigureAwait(false);
            return response.Value;
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return false;
        }
        catch (AggregateException e) when (IsUnreachable(e))
        {
            throw Unreachable(name, e);
        }
    }

    public async Task<string> WriteAsync(string name, ReadOnlyMemory<byte> content, BlobCondition condition, CancellationToken cancellationToken = default)
    {
        try
        {
            return await WriteOnceReachableAsync(name, content, condition, cancellationToken).ConfigureAwait(false);
        }
        catch (AggregateException e) when (IsUnreachable(e))
        {
            throw Unreachable(name, e);
        }
    }

    /// <summary>
    /// True for what the SDK throws when its retries all failed to reach the service (connection refused, timeouts):
    /// an aggregate of transport failures, which callers treat as storage being away for a while.
    /// </summary>
    private static bool IsUnreachable(AggregateException e) =>
        e.InnerExceptions.Count > 0 && e.InnerExceptions.All(i => i is RequestFailedException or IOException or HttpRequestException or TimeoutException);

    /// <summary>The one exception a caller sees when storage is unreachable: an <see cref="IOException"/> naming the blob.</summary>
    private IOException Unreachable(string name, AggregateException e) =>
        new($"Azure Blob storage did not answer for '{Describe(name)}' after {e.InnerExceptions.Count} tries: {e.InnerExceptions[^1].Message}", e);

    private async Task<string> WriteOnceReachableAsync(string name, ReadOnlyMemory<byte> content, BlobCondition condition, CancellationToken cancellationToken)
    {
        var blob = _container.GetBlobClient(_prefix + BlobNames.Validate(name));
        await EnsureContainerAsync(cancellationToken).ConfigureAwait(false);
        var options = new BlobUploadOptions
        {
            Conditions = condition.Kind switch
            {
                BlobConditionKind.IfAbsent => new BlobRequestConditions { IfNoneMatch = ETag.All },
                BlobConditionKind.IfMatch => new BlobRequestConditions { IfMatch = new ETag(condition.ETag!) },
                _ => null,
            },
        };
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var response = await blob.UploadAsync(BinaryData.FromBytes(content), options, cancellationToken).ConfigureAwait(false);
                return response.Value.ETag.ToString();
            }
            catch (RequestFailedException e) when (e.ErrorCode == "ContainerNotFound" && attempt == 0)
            {
                // The container went away since it was created (deleted, or an emulator reset): create it again, once.
                _created = null;
                await EnsureContainerAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (RequestFailedException e) when (condition.Kind != BlobConditionKind.None && e.Status is 409 or 412 or 404)
            {
                throw new BlobConflictException(name, condition, e);
            }
        }
    }

    private Task EnsureContainerAsync(CancellationToken cancellationToken)
    {
        var created = _created;
        if (created is { IsCompletedSuccessfully: true })
        {
            return created;
        }

        // A failed attempt (storage down) is retried by the next write.
        created = _container.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
        _created = created;
        return created;
    }
}
