using System.Security.Cryptography;
using System.Text.Json;
using UNetCluster.Contracts.Jobs;
using UNetCluster.Data.DataSets;
using UNetCluster.Data.Imaging;
using UNetCluster.Data.Storage;
using UNetCluster.Model.Checkpoints;
using UNetCluster.Model.Inference;
using UNetCluster.Model.Training;
using UNetCluster.Training.Checkpoints;
using UNetCluster.Training.Coordination;
using UNetCluster.Training.Jobs;

namespace UNetCluster.Silo.Tests.Grains;

/// <summary>
/// Prediction jobs (issue 19) on the in-process cluster of three silos: the outputs a job writes into storage equal, byte
/// for byte, what <c>unet predict</c>'s code writes locally with the same checkpoint and options, for a set of images and
/// for one image cut into blocks that all three workers predict; refused specs leave nothing behind; an unreadable
/// image is listed and the rest are written.
/// </summary>
[Collection(ClusterTests.Name)]
public sealed class PredictionJobTests(ClusterFixture fixture)
{
    private const string Trained = "predict-source";

    private FileBlobStore Blobs => new(fixture.StorageRoot);

    [Fact]
    public async Task PredictionJob_SetOfImages_WritesWhatLocalPredictionWritesByteForByteWithAManifest()
    {
        await EnsureTrainedAsync();
        var images = await PutImagesAsync("inputs/three/", 3);

        var status = await fixture.RunAsync(new JobSpec { Prediction = new PredictionSpec { FromJob = Trained, Prefix = "inputs/three/" } }, "predict-three");

        Assert.Equal(JobState.Completed, status.State);
        Assert.Equal("predict", status.Spec.Kind);
        Assert.Equal(3, status.Prediction!.ImagesDone);
        Assert.Equal(3, status.Prediction.Units);
        Assert.Empty(status.Prediction.Errors);
        var manifest = await ManifestAsync("predict-three");
        Assert.Equal(status.Spec.Prediction!.CheckpointSha256, manifest.CheckpointSha256);
        Assert.Equal(3 * 3, manifest.Files.Count);   // probability, mask and overlay of each
        await AssertEqualToLocalAsync("predict-three", status.Spec.Prediction, images, manifest, OverlapTilePredictor.DefaultBlockSize);
        Assert.Empty(await Blobs.ListAsync(PredictionLayout.Work("predict-three"), TestContext.Current.CancellationToken));   // no work files left
    }

    [Fact]
    public async Task PredictionJob_OneImageInBlocks_IsSpreadOverThreeWorkersAndEqualsLocalPrediction()
    {
        await EnsureTrainedAsync();
        var images = await PutImagesAsync("inputs/one/", 1);
        var spec = new PredictionSpec { FromJob = Trained, Prefix = "inputs/one/", BlockSize = 168, Workers = 3 };   // 2 x 2 tiles of 84 a block

        var status = await fixture.RunAsync(new JobSpec { Prediction = spec }, "predict-blocks");

        Assert.Equal(JobState.Completed, status.State);
        Assert.Equal(1, status.Prediction!.ImagesDone);
        Assert.Equal(1 + 16 + 1, status.Prediction.Units);   // the file, its 4 x 4 blocks, the assembly
        Assert.Equal(ClusterFixture.Silos, status.Workers.Count);
        var manifest = await ManifestAsync("predict-blocks");
        await AssertEqualToLocalAsync("predict-blocks", status.Spec.Prediction!, images, manifest, 168);
    }

    [Fact]
    public async Task PredictionJob_UnreadableImageAmongGoodOnes_IsListedAndTheOthersAreWritten()
    {
        await EnsureTrainedAsync();
        await PutImagesAsync("inputs/mixed/", 2);
        await Blobs.WriteAsync("inputs/mixed/broken.png", new byte[] { 0x89, 0x50, 0x4E, 0x47, 1, 2, 3 }, BlobCondition.None, TestContext.Current.CancellationToken);

        var status = await fixture.RunAsync(new JobSpec { Prediction = new PredictionSpec { FromJob = Trained, Prefix = "inputs/mixed/" } }, "predict-mixed");

        Assert.Equal(JobState.CompletedWithErrors, status.State);
        Assert.Equal(2, status.Prediction!.ImagesDone);
        var error = Assert.Single(status.Prediction.Errors);
        Assert.Contains("broken.png", error, StringComparison.Ordinal);
        var manifest = await ManifestAsync("predict-mixed");
        Assert.Equal(6, manifest.Files.Count);
        Assert.Single(manifest.Errors);
    }

    [Fact]
    public async Task PredictionJob_BadCheckpointInputOrTile_IsRefusedNamingTheFieldAndNothingIsWritten()
    {
        await EnsureTrainedAsync();
        await PutImagesAsync("inputs/refused/", 1);
        var folder = (await TrainedStore().ReadLatestStepAsync(TestContext.Current.CancellationToken)) is { } step ? TrainedStore().FolderOf(step) : throw new InvalidOperationException();
        // A copy of the checkpoint whose weights were changed after its manifest was written.
        foreach (var file in new[] { CheckpointManifest.FileName, CheckpointManifest.ModelFile, CheckpointManifest.OptimizerFile })
        {
            var bytes = (await Blobs.ReadAsync($"{folder}/{file}", TestContext.Current.CancellationToken))!.Content;
            if (file == CheckpointManifest.ModelFile)
            {
                bytes[^1] ^= 0xFF;
            }

            await Blobs.WriteAsync($"copies/corrupt/{file}", bytes, BlobCondition.None, TestContext.Current.CancellationToken);
        }

        var cases = new (PredictionSpec Spec, string Expected)[]
        {
            (new() { Checkpoint = "copies/none", Prefix = "inputs/refused/" }, "checkpoint: Checkpoint"),
            (new() { Checkpoint = "copies/corrupt", Prefix = "inputs/refused/" }, "is corrupted: sha256"),
            (new() { FromJob = "no-such-job", Prefix = "inputs/refused/" }, "fromJob 'no-such-job' has no checkpoint"),
            (new() { FromJob = Trained, Prefix = "inputs/empty/" }, "prefix 'inputs/empty/' holds no image"),
            (new() { FromJob = Trained, DataSet = "no-such-set" }, "dataSet 'no-such-set' is not in the cluster's storage"),
            (new() { FromJob = Trained, Prefix = "inputs/refused/", TileSize = 125 }, "tileSize 125 is invalid for the checkpoint's network"),
            (new() { FromJob = Trained, Prefix = "inputs/refused/", BatchSize = 0 }, "batchSize 0 is invalid"),
            (new() { FromJob = Trained }, "input: expected exactly one of dataSet"),
        };
        foreach (var (spec, expected) in cases)
        {
            var result = await fixture.Registry.SubmitAsync(new JobSpec { Prediction = spec }, "predict-refused");

            Assert.False(result.Accepted, expected);
            Assert.Contains(result.Errors, e => e.Contains(expected, StringComparison.Ordinal));
            Assert.False(await fixture.Registry.ExistsAsync("predict-refused"));
            Assert.Empty(await Blobs.ListAsync(PredictionLayout.Outputs("predict-refused"), TestContext.Current.CancellationToken));
        }
    }

    private CheckpointStore TrainedStore() => CheckpointStore.ForJob(Blobs, Trained);

    /// <summary>A tiny training job's checkpoint, trained once for these tests.</summary>
    private async Task EnsureTrainedAsync()
    {
        if (await TrainedStore().ReadLatestStepAsync(TestContext.Current.CancellationToken) is null)
        {
            var status = await fixture.RunAsync(new JobSpec { Preset = "tiny", Seed = 5, Steps = 4, BatchSize = 2, Workers = 1 }, Trained);
            Assert.Equal(JobState.Completed, status.State);
        }
    }

    /// <summary>Puts the first <paramref name="count"/> bundled ISBI sections under <paramref name="prefix"/>; returns their names there.</summary>
    private async Task<IReadOnlyList<string>> PutImagesAsync(string prefix, int count)
    {
        var names = new List<string>();
        foreach (var file in Directory.GetFiles(BundledData.ImagesDirectory).Order(StringComparer.Ordinal).Take(count))
        {
            var name = prefix + Path.GetFileName(file);
            await Blobs.WriteAsync(name, await File.ReadAllBytesAsync(file, TestContext.Current.CancellationToken), BlobCondition.None, TestContext.Current.CancellationToken);
            names.Add(name);
        }

        return names;
    }

    private async Task<PredictionManifest> ManifestAsync(string jobId)
    {
        var stored = await Blobs.ReadAsync(PredictionLayout.Manifest(jobId), TestContext.Current.CancellationToken);
        Assert.NotNull(stored);
        var manifest = JsonSerializer.Deserialize<PredictionManifest>(stored.Content, CheckpointManifest.JsonOptions)!;
        foreach (var file in manifest.Files)
        {
            var bytes = (await Blobs.ReadAsync(PredictionLayout.Output(jobId, file.Name), TestContext.Current.CancellationToken))!.Content;
            Assert.Equal(file.Sha256, Convert.ToHexStringLower(SHA256.HashData(bytes)));
        }

        return manifest;
    }

    /// <summary>Predicts the images as <c>unet predict</c> does (its code: the checkpoint, the overlap-tile predictor, the writer) and compares every file.</summary>
    private async Task AssertEqualToLocalAsync(string jobId, PredictionSpec spec, IReadOnlyList<string> images, PredictionManifest manifest, int blockSize)
    {
        using var checkpoint = await CheckpointStore.LoadAtAsync(Blobs, spec.Checkpoint!, TestContext.Current.CancellationToken);
        using var model = CheckpointStore.CreateModel(checkpoint);
        var classes = CheckpointPrediction.Classes(checkpoint.Manifest);
        var predictor = new OverlapTilePredictor(model, CheckpointPrediction.TrainingTileSize(checkpoint.Manifest), blockSize: blockSize);
        var local = Directory.CreateTempSubdirectory("unet-local-predict-").FullName;
        foreach (var name in images)
        {
            var image = ImageReader.ReadPages(name, (await Blobs.ReadAsync(name, TestContext.Current.CancellationToken))!.Content)[0];
            using var input = TrainingData.ImageTensor(image, checkpoint.Manifest.Normalisation);
            using var probabilities = predictor.PredictProbabilities(input);
            PredictionWriter.Write(local, Path.GetFileNameWithoutExtension(name[(name.LastIndexOf('/') + 1)..]), image, probabilities,
                threshold: checkpoint.Manifest.Threshold ?? 0.5, classes: classes);
        }

        var written = Directory.GetFiles(local).Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(written, manifest.Files.Select(f => f.Name).ToList());
        foreach (var file in written)
        {
            var cluster = (await Blobs.ReadAsync(PredictionLayout.Output(jobId, file), TestContext.Current.CancellationToken))!.Content;
            var here = await File.ReadAllBytesAsync(Path.Combine(local, file), TestContext.Current.CancellationToken);
            Assert.True(cluster.SequenceEqual(here), $"{file} differs");
        }
    }
}
