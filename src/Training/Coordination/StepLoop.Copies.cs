using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using UNetCluster.Contracts.Jobs;
using UNetCluster.Contracts.Messages;
using UNetCluster.Model.Distributed;

namespace UNetCluster.Training.Coordination;

/// <summary>
/// Reducer copies (DESIGN.md, failure model): each shard's reducer hands every applied step's mean gradient to a copy
/// on another silo, which applies the same update, and serves the step only once the copy has it. So a committed step
/// survives the loss of any one silo: a lost reducer is replaced by its copy and only the step in flight is recomputed;
/// a coordinator that takes the job over adopts the reducers (or their copies) named in the record. The copies are set
/// up, kept apart from their reducers and spread over the silos (a silo that joins takes roles over) at step boundaries.
/// </summary>
public sealed partial class StepLoop
{
    private List<string> _copies = [];   // by shard, the key of the reducer's copy; "" for none
    private int _copySerial;              // copies set up by this coordinator: part of their keys

    /// <summary>Whether the job keeps reducer copies (<c>ReducerCopies</c>, on unless turned off).</summary>
    private bool CopiesOn => _spec.ReducerCopies != false;

    /// <summary>The shard ranges of the reducers.</summary>
    private IReadOnlyList<ShardRange> Shards => ParameterShards.Split(Status.Parameters, _reducers.Count);

    /// <summary>
    /// At a step boundary: drops copies on silos that left, sets a copy up for every shard without one (on the live silo
    /// holding the fewest reducers and copies, never the reducer's own), and moves one reducer or copy to a silo that
    /// holds none (one that joined). False when a call failed; the step goes on and it is tried at the next boundary.
    /// </summary>
    private async Task<bool> MaintainCopiesAsync(IReadOnlyList<string> workers)
    {
        if (!CopiesOn || _reducers.Count == 0)
        {
            return true;
        }

        var changed = false;
        for (var k = 0; k < _copies.Count; k++)
        {
            if (_copies[k].Length > 0 && !_cluster.IsAlive(_copies[k]))
            {
                _copies[k] = string.Empty;
                changed = true;
            }
        }

        var silos = workers.Select(SiloKeys.SiloOf).ToList();
        try
        {
            for (var k = 0; k < _copies.Count; k++)
            {
                if (_copies[k].Length == 0 && Emptiest(silos, exclude: SiloKeys.SiloOf(_reducers[k])) is { } silo)
                {
                    _copies[k] = await SetUpCopyAsync(k, silo);
                    await _cluster.SetReducerCopyAsync(_reducers[k], _copies[k]).WaitAsync(CheckTimeout);
                    changed = true;
                }
            }

            changed |= await SpreadAsync(silos);
        }
        catch (Exception e) when (IsCallFailure(e))
        {
            LogCopySetUpFailed(_jobId, _version, e);
            return false;
        }
        finally
        {
            if (changed)
            {
                Status = WithReducers(Status);
                await _lease.PublishAsync(force: true);
            }
        }

        return true;
    }

    /// <summary>
    /// Moves one reducer or copy from the silo holding the most to a silo holding at least two fewer (a silo that
    /// joined holds none): a new copy is set up there from the reducer; it replaces the copy, or becomes the reducer
    /// (the old reducer's copy now its copy) while the old reducer is released. True when it moved one.
    /// </summary>
    private async Task<bool> SpreadAsync(List<SiloAddress> silos)
    {
        var roles = Roles(silos);
        var (busiest, idlest) = (roles.MaxBy(r => r.Value).Key, roles.MinBy(r => r.Value).Key);
        if (roles.Count < 2 || roles[busiest] - roles[idlest] < 2)
        {
            return false;
        }

        for (var k = 0; k < _reducers.Count; k++)
        {
            var (reducer, copy) = (_reducers[k], _copies[k]);
            var (reducerSilo, copySilo) = (SiloKeys.SiloOf(reducer), copy.Length > 0 ? SiloKeys.SiloOf(copy) : null);
            if (Equals(copySilo, busiest) && !reducerSilo.Equals(idlest))
            {
                var moved = await SetUpCopyAsync(k, idlest);
                await _cluster.SetReducerCopyAsync(reducer, moved).WaitAsync(CheckTimeout);
                _copies[k] = moved;
                await ReleaseReducersAsync([copy]);
                LogMoved(_jobId, k, "copy", busiest, idlest, _version);
                return true;
            }

            if (reducerSilo.Equals(busiest) && !Equals(copySilo, idlest))
            {
                var moved = await SetUpCopyAsync(k, idlest);
                await _cluster.SetReducerCopyAsync(moved, copy.Length > 0 ? copy : null).WaitAsync(CheckTimeout);
                _reducers[k] = moved;
                await ReleaseReducersAsync([reducer]);
                LogMoved(_jobId, k, "reducer", busiest, idlest, _version);
                return true;
            }
        }

        return false;
    }

    /// <summary>Reducers and copies per live silo.</summary>
    private Dictionary<SiloAddress, int> Roles(IEnumerable<SiloAddress> silos)
    {
        var roles = silos.Distinct().ToDictionary(s => s, _ => 0);
        foreach (var key in _reducers.Concat(_copies).Where(k => k.Length > 0))
        {
            if (roles.ContainsKey(SiloKeys.SiloOf(key)))
            {
                roles[SiloKeys.SiloOf(key)]++;
            }
        }

        return roles;
    }

    /// <summary>
    /// The live silo holding the fewest reducers and copies, other than <paramref name="exclude"/> (the reducer's); of
    /// equals, the first after it in worker order, so that copies go round the ring. Null when there is none.
    /// </summary>
    private SiloAddress? Emptiest(List<SiloAddress> silos, SiloAddress exclude)
    {
        var from = silos.IndexOf(exclude);
        return Roles(silos).Where(r => !r.Key.Equals(exclude))
            .OrderBy(r => r.Value).ThenBy(r => (silos.IndexOf(r.Key) - from + silos.Count) % silos.Count)
            .Select(r => r.Key).FirstOrDefault();
    }

    /// <summary>A new reducer on <paramref name="silo"/> holding a copy of shard <paramref name="k"/>'s state at the current step.</summary>
    private async Task<string> SetUpCopyAsync(int k, SiloAddress silo)
    {
        var shard = Shards[k];
        var key = SiloKeys.Key($"{_jobId}/{_lease.Epoch}.{_generation}/{k}c{++_copySerial}", silo);
        var setup = new ReducerSetup(_jobId, _spec, k, shard.Offset, shard.Length, _version, 0);
        await _cluster.CopyReducerAsync(key, setup, _reducers[k]).WaitAsync(CopyTimeout);
        return key;
    }

    /// <summary>
    /// After a failed attempt: every reducer on a silo that left is replaced by its copy, if the copy lives; the caller
    /// then checks that every reducer holds the open step or the one after it.
    /// </summary>
    private void PromoteCopies()
    {
        if (!CopiesOn)
        {
            return;
        }

        var promoted = 0;
        for (var k = 0; k < _reducers.Count; k++)
        {
            if (!_cluster.IsAlive(_reducers[k]) && _copies[k].Length > 0 && _cluster.IsAlive(_copies[k]))
            {
                LogPromoted(_jobId, k, _reducers[k], _copies[k], _version);
                (_reducers[k], _copies[k]) = (_copies[k], string.Empty);
                promoted++;
            }
        }

        if (promoted > 0)
        {
            Status = WithReducers(Status) with { ReducersRecovered = Status.ReducersRecovered + promoted };
        }
    }

    /// <summary><paramref name="status"/> naming the reducers and their copies as they are now (no copies: an empty list).</summary>
    private JobStatus WithReducers(JobStatus status) => status with { Reducers = [.. _reducers], ReducerCopies = CopiesOn ? [.. _copies] : [] };

    /// <summary>
    /// A coordinator taking the job over: adopts the reducers its record names (each shard's reducer, or its copy where
    /// the reducer's silo left) when all hold state at one step s or s + 1, and goes on from there instead of the latest
    /// checkpoint. False when they cannot be adopted (copies off, a shard lost both, versions apart).
    /// </summary>
    private async Task<bool> TryAdoptAsync()
    {
        if (!CopiesOn || _reducers.Count > 0 || Status.Reducers.Count == 0 || Status.Parameters <= 0)
        {
            return false;
        }

        var copies = Status.ReducerCopies.Count == Status.Reducers.Count ? Status.ReducerCopies : [.. Status.Reducers.Select(_ => string.Empty)];
        var reducers = new List<string>();
        var kept = new List<string>();
        var states = new List<ReducerState>();
        try
        {
            for (var k = 0; k < Status.Reducers.Count; k++)
            {
                var candidates = new[] { Status.Reducers[k], copies[k] }.Where(c => c.Length > 0 && _cluster.IsAlive(c)).ToList();
                var found = false;
                foreach (var candidate in candidates)
                {
                    var state = await _cluster.GetReducerStateAsync(candidate).WaitAsync(CheckTimeout);
                    if (state.Ready)
                    {
                        reducers.Add(candidate);
                        states.Add(state);
                        kept.Add(state.Copy is { } copy && candidates.Contains(copy) ? copy : string.Empty);
                        found = true;
                        break;
                    }
                }

                if (!found)
                {
                    LogShardLost(_jobId, k);
                    return false;
                }
            }
        }
        catch (Exception e) when (IsCallFailure(e))
        {
            LogNotAdopted(_jobId, e.Message);
            return false;
        }

        var low = states.Min(s => s.Version);
        if (states.Any(s => s.Version > low + 1))
        {
            var high = states.Max(s => s.Version);
            LogVersionsApart(_jobId, low, high);
            return false;
        }

        // All at low + 1: the step in flight was applied everywhere before the coordinator died; it counts as committed.
        _version = states.All(s => s.Version == low + 1) ? low + 1 : low;
        _reducers = reducers;
        _copies = kept;
        _generation++;
        Status = WithReducers(Status) with { Step = _version, ReducersRecovered = Status.ReducersRecovered + reducers.Count };
        LogAdopted(_jobId, reducers.Count, _version);
        StartCounting();
        await _lease.PublishAsync(force: true);
        return true;
    }

    /// <summary>A copy's set-up pulls its whole shard (parameters and optimizer state); it may take longer than a call.</summary>
    private static readonly TimeSpan CopyTimeout = TimeSpan.FromMinutes(2);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: setting reducer copies up at step {Step} failed; tried again at the next step boundary")]
    private partial void LogCopySetUpFailed(string jobId, long step, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: moved the {Role} of shard {Shard} from silo {From} to silo {To} at step {Step}")]
    private partial void LogMoved(string jobId, int shard, string role, SiloAddress from, SiloAddress to, long step);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: reducer {Lost} of shard {Shard} was lost with its silo; its copy {Copy} takes over at step {Step}")]
    private partial void LogPromoted(string jobId, int shard, string lost, string copy, long step);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: adopted the {Count} reducers of the coordinator before at step {Step}")]
    private partial void LogAdopted(string jobId, int count, long step);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: the reducers of the coordinator before cannot be adopted ({Reason}); going back to the latest checkpoint")]
    private partial void LogNotAdopted(string jobId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: the reducers of the coordinator before cannot be adopted (shard {Shard} has neither its reducer nor its copy); going back to the latest checkpoint")]
    private partial void LogShardLost(string jobId, int shard);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: the reducers of the coordinator before cannot be adopted (they hold steps {Low} to {High}); going back to the latest checkpoint")]
    private partial void LogVersionsApart(string jobId, long low, long high);
}
