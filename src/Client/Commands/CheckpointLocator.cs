using UNetCluster.Model.Checkpoints;
using UNetCluster.Training.Checkpoints;

namespace UNetCluster.Client.Commands;

/// <summary>
/// Resolves what a user passes as --checkpoint: a checkpoint folder, or a checkpoints folder or run folder, of which it
/// takes the best checkpoint by validation (the <c>best</c> pointer) unless <paramref name="latest"/> is asked for or
/// no validation marked one, and then the latest.
/// </summary>
internal static class CheckpointLocator
{
    public static LoadedCheckpoint Load(string path, Action<string> warn, bool latest = false)
    {
        if (File.Exists(Path.Combine(path, CheckpointManifest.FileName)))
        {
            return LocalCheckpointStore.Load(path);
        }

        foreach (var root in new[] { path, Path.Combine(path, "checkpoints") })
        {
            if (File.Exists(Path.Combine(root, LocalCheckpointStore.LatestPointer)))
            {
                var store = new LocalCheckpointStore(root);
                if (!latest && File.Exists(Path.Combine(root, LocalCheckpointStore.BestPointer)))
                {
                    try
                    {
                        return store.LoadBestAsync().GetAwaiter().GetResult()!;
                    }
                    catch (InvalidDataException e)
                    {
                        throw new UserInputException($"--checkpoint {path}: {e.Message.TrimEnd('.')} (pass --latest).", e);
                    }
                }

                return store.LoadLatest(warn)
                    ?? throw new UserInputException($"--checkpoint {path}: no checkpoint under {root} passed its hash check.");
            }
        }

        throw new UserInputException(
            $"--checkpoint {path} is not a checkpoint: expected a folder with {CheckpointManifest.FileName}, a checkpoints folder with a " +
            $"'{LocalCheckpointStore.LatestPointer}' pointer, or a run folder written by 'unet train'.");
    }
}
