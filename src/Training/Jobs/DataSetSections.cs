using UNetCluster.Data.DataSets;
using UNetCluster.Data.Storage;

namespace UNetCluster.Training.Jobs;

/// <summary>
/// The labelled sections of the data set a job names, as a worker needs them: how many there are (known before any
/// is read, so the validation split and the tile-to-section draw need no data) and each section on demand. A local
/// data set is read whole when opened. A stored one (DESIGN.md's <c>datasets/{name}/</c>) is fetched item by item,
/// the first time a step's tile is drawn from one of the item's sections, so a worker fetches only the items its
/// shard of the tiles needs (see <see cref="DataCatalog.OpenAsync"/> for the cache and the hash checks).
/// </summary>
public sealed class DataSetSections
{
    private readonly IReadOnlyList<LabelledSection>? _local;
    private readonly IReadOnlyList<DataSetItem> _items;
    private readonly Func<DataSetItem, CancellationToken, Task<IReadOnlyList<LabelledSection>>>? _fetch;
    private readonly (int Item, int Page)[] _where;            // a stored set's sections: item and page
    private readonly Task<IReadOnlyList<LabelledSection>>?[] _fetched;
    private readonly Lock _gate = new();

    private DataSetSections(string name, IReadOnlyList<LabelledSection>? local, IReadOnlyList<DataSetItem> items,
        Func<DataSetItem, CancellationToken, Task<IReadOnlyList<LabelledSection>>>? fetch, int channels)
    {
        Name = name;
        Channels = channels;
        _local = local;
        _items = items;
        _fetch = fetch;
        _where = [.. items.SelectMany((item, i) => Enumerable.Range(0, item.Pages).Select(page => (i, page)))];   // empty for a local set
        _fetched = new Task<IReadOnlyList<LabelledSection>>?[items.Count];
    }

    /// <summary>A data set read whole from local folders.</summary>
    public static DataSetSections Local(string name, LabelledDataSet dataSet)
    {
        ArgumentNullException.ThrowIfNull(dataSet);
        return new DataSetSections(name, dataSet.Sections, [], null, dataSet.Channels) { Kind = dataSet.Kind, Classes = dataSet.Classes };
    }

    /// <summary>
    /// A stored data set: its items in section order (each item one section per page), how to fetch one item's
    /// sections (verified) into this silo, and the channels of its images as its manifest records them.
    /// </summary>
    /// <param name="kind">What the masks hold, as the manifest records it.</param>
    /// <param name="classes">For class masks, the manifest's class count.</param>
    public static DataSetSections Stored(string name, IReadOnlyList<DataSetItem> items,
        Func<DataSetItem, CancellationToken, Task<IReadOnlyList<LabelledSection>>> fetch, MaskKind kind = MaskKind.Auto, int? classes = null, int channels = 1)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(fetch);
        return new DataSetSections(name, null, items, fetch, channels) { Kind = kind, Classes = classes ?? 2 };
    }

    public string Name { get; }

    /// <summary>What the masks hold (<see cref="MaskKind.Auto"/> for a stored set whose manifest predates the record).</summary>
    public MaskKind Kind { get; private init; }

    /// <summary>The number of classes the masks index: 2 for binary and instance masks.</summary>
    public int Classes { get; private init; } = 2;

    /// <summary>The channels of every image (1 gray, 3 RGB): the network's input channels follow them.</summary>
    public int Channels { get; }

    /// <summary>True when every section is in memory already (a local data set).</summary>
    public bool IsLocal => _local is not null;

    /// <summary>The number of labelled sections.</summary>
    public int Count => _local?.Count ?? _where.Length;

    /// <summary>The number of stored items (0 for a local data set).</summary>
    public int Items => _items.Count;

    /// <summary>The stored items fetched (or being fetched) so far by this silo for this job.</summary>
    public int FetchedItems
    {
        get
        {
            lock (_gate)
            {
                return _fetched.Count(t => t is not null);
            }
        }
    }

    /// <summary>
    /// The section with the shortest side (its id, width and height), known without fetching anything: a stored data
    /// set's manifest records every item's size. Null for an empty data set.
    /// </summary>
    public (string Id, int Width, int Height)? Smallest
    {
        get
        {
            var sizes = _local is { } local
                ? local.Select(s => (s.Id, s.Image.Width, s.Image.Height))
                : _items.Select(i => (i.Id, i.Width, i.Height));
            (string Id, int Width, int Height)? smallest = null;
            foreach (var size in sizes)
            {
                if (smallest is not { } best || Math.Min(size.Width, size.Height) < Math.Min(best.Width, best.Height))
                {
                    smallest = size;
                }
            }

            return smallest;
        }
    }

    /// <summary>A section of a local data set, at once.</summary>
    public LabelledSection this[int index] =>
        _local is { } local ? local[index] : throw new InvalidOperationException($"Data set '{Name}' is stored: its sections are fetched with GetAsync.");

    /// <summary>
    /// Section <paramref name="index"/>, fetching its item first when it is stored and not here yet. A failed fetch
    /// is not remembered: the next call tries again.
    /// </summary>
    /// <exception cref="InvalidDataException">A stored file is missing, or its size or sha256 differs from the manifest.</exception>
    /// <exception cref="DataSetValidationException">A fetched pair is not a valid labelled item.</exception>
    public async Task<LabelledSection> GetAsync(int index, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        if (_local is { } local)
        {
            return local[index];
        }

        var (item, page) = _where[index];
        Task<IReadOnlyList<LabelledSection>> fetch;
        lock (_gate)
        {
            fetch = _fetched[item] ??= _fetch!(_items[item], cancellationToken);
        }

        IReadOnlyList<LabelledSection> sections;
        try
        {
            sections = await fetch.ConfigureAwait(false);
        }
        catch
        {
            lock (_gate)
            {
                if (_fetched[item] == fetch)
                {
                    _fetched[item] = null;
                }
            }

            throw;
        }

        if (sections.Count != _items[item].Pages)
        {
            throw new InvalidDataException(
                $"Item '{_items[item].Id}' of data set '{Name}' has {sections.Count} section(s) but its manifest says {_items[item].Pages}.");
        }

        return sections[page];
    }
}
