using System.Text.Json;
using UNetCluster.Data.Imaging;
using UNetCluster.Model.Checkpoints;
using UNetCluster.Model.Optimization;
using UNetCluster.Model.Training;

namespace UNetCluster.Model.Tests.Training;

/// <summary>The normalisation and the input channels a run trains with, as the checkpoint records them for prediction.</summary>
public sealed class NormalisationOptionTests
{
    [Fact]
    public void ApplyTo_PercentileAndThreeChannels_ReachTheCheckpointManifestAndReadBack()
    {
        var options = new TrainingOverrides { Channels = 3, Normalisation = "percentile" }.ApplyTo(Presets.Get("tiny"));

        var manifest = Manifest(JsonSerializer.SerializeToElement(options, CheckpointManifest.JsonOptions), options.Model);

        Assert.Equal(3, options.Model.InputChannels);
        Assert.Equal(IntensityNormalisation.Percentile, manifest.Normalisation);
    }

    [Fact]
    public void Normalisation_CheckpointWrittenBeforeTheOption_IsMeanStd()
    {
        var before = JsonSerializer.SerializeToElement(new { tileSize = 124 });

        Assert.Equal(IntensityNormalisation.MeanStd, Manifest(before, new UNetOptions()).Normalisation);
        Assert.Equal(IntensityNormalisation.MeanStd, Manifest(null, new UNetOptions()).Normalisation);
    }

    [Theory]
    [InlineData(null, "zscore", "--normalisation 'zscore' is unknown: expected mean-std or percentile")]
    [InlineData(5, null, "--channels 5 is invalid: expected an integer from 1 to 4")]
    public void ApplyTo_BadChannelsOrNormalisation_NamesTheOption(int? channels, string? normalisation, string expected)
    {
        var overrides = new TrainingOverrides { Channels = channels, Normalisation = normalisation };

        var error = Assert.Throws<ArgumentException>(() => overrides.ApplyTo(Presets.Get("tiny")));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    private static CheckpointManifest Manifest(JsonElement? training, UNetOptions model) => new(
        CheckpointManifest.CurrentFormat, 1, 42, model, new OptimizerOptions(OptimizerKind.Adam, LearningRate: 1e-3), training,
        new Dictionary<string, string>(), DateTimeOffset.UnixEpoch);
}
