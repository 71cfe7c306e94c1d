using UNetCluster.Model.Checkpoints;
using UNetCluster.Training.Checkpoints;

namespace UNetCluster.Client.Commands;

/// <summary>Resolves what a user passes as --checkpoint: a checkpoint folder, a checkpoints folder, or a run folder.</summary>
internal static class CheckpointLocator
{
    public static LoadedCheckpoint Load(string path, Action<string> warn)
    {
        if (File.Exists(Path.Combine(path, CheckpointManifest.FileName)))
        {
            return LocalCheckpointStore.Load(path);
        }

        foreach (var root in new[] { path, Path.Combine(path, "checkpoints") })
        {
            if (File.Exists(Path.Combine(root, LocalCheckpointStore.LatestPointer)))
            {
                return new LocalCheckpointStore(root).LoadLatest(warn)
                    ?? throw new UserInputException($"--checkpoint {path}: no checkpoint under {root} passed its hash check.");
            }
        }

        throw new UserInputException(
            $"--checkpoint {path} is not a checkpoint: expected a folder with {CheckpointManifest.FileName}, a checkpoints folder with a " +
            $"'{LocalCheckpointStore.LatestPointer}' pointer, or a run folder written by 'unet train'.");
    }
}
