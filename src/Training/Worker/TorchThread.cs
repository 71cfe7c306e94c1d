using System.Collections.Concurrent;
using UNetCluster.Model.Training;
using UNetCluster.Training.Settings;
using static TorchSharp.torch;

namespace UNetCluster.Training.Worker;

/// <summary>
/// The one thread of a silo that calls libtorch: the engine's forward and backward, parameter copies and the
/// reducers' optimizer updates run here, one after another. libtorch's OpenMP keeps a spinning thread team per
/// calling thread, so calls from rotating thread-pool threads would compete with each other (bench/README.md).
/// </summary>
public sealed class TorchThread : IDisposable
{
    private readonly BlockingCollection<Action> _work = [];
    private readonly Thread _thread;

    public TorchThread(WorkerSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        Device = ComputeDevice.Resolve(settings.Device, WorkerSettings.DeviceKey);   // refuses an unreachable CUDA device before any work
        var threads = settings.Threads > 0 ? settings.Threads : Environment.ProcessorCount;
        _thread = new Thread(() =>
        {
            set_num_threads(threads);
            foreach (var work in _work.GetConsumingEnumerable())
            {
                work();
            }
        })
        {
            IsBackground = true,
            Name = "libtorch",
        };
        _thread.Start();
    }

    /// <summary>The device this silo's replicas compute on (<see cref="WorkerSettings.Device"/>), resolved once.</summary>
    public ComputeDevice Device { get; }

    /// <summary>Runs <paramref name="work"/> on the torch thread; the task ends with its result or exception.</summary>
    public Task<T> RunAsync<T>(Func<T> work)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add(() =>
        {
            try
            {
                done.SetResult(work());
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        });
        return done.Task;
    }

    public Task RunAsync(Action work) => RunAsync(() =>
    {
        work();
        return true;
    });

    public void Dispose()
    {
        _work.CompleteAdding();
        _thread.Join(TimeSpan.FromSeconds(10));
        _work.Dispose();
    }
}
