using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using UNetCluster.Silo.Hosting;
using static TorchSharp.torch;

namespace UNetCluster.Silo.Engines;

/// <summary>
/// The one thread of a silo that calls libtorch: the engine's forward and backward, parameter copies, and the
/// reducers' optimizer updates all run here, one after another. libtorch parallelises inside an operation with
/// OpenMP, and GNU OpenMP keeps a spinning thread team per calling thread: torch calls from rotating thread-pool
/// threads left several teams spinning against each other (measured: a base-16 step took 0.69-1.05 s in a silo
/// against 0.50 s alone, and 0.33 s once the spinning stopped).
/// </summary>
public sealed class TorchThread : IDisposable
{
    private readonly BlockingCollection<Action> _work = [];
    private readonly Thread _thread;

    public TorchThread(IOptions<UNetSiloOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var threads = options.Value.Worker.Threads > 0 ? options.Value.Worker.Threads : Environment.ProcessorCount;
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
