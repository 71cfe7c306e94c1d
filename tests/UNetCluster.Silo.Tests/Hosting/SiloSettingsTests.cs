using Microsoft.Extensions.Options;
using UNetCluster.Silo.Hosting;

namespace UNetCluster.Silo.Tests.Hosting;

/// <summary>A silo started with a setting it cannot use stops before anything listens, naming the key and what it accepts.</summary>
public sealed class SiloSettingsTests
{
    [Theory]
    [InlineData("Cluster:SiloPort", "abc", "'abc' is not an integer.")]
    [InlineData("Cluster:GatewayPort", "70000", "70000 is not a port; expected 1 to 65535.")]
    [InlineData("Cluster:AdvertisedAddress", "silo-0.local", "'silo-0.local' is not an IP address; expected the address other silos reach this one at")]
    [InlineData("Cluster:Clustering", "Zookeeper", "'Zookeeper' is not one of Localhost, Redis, AzureTable.")]
    [InlineData("Cluster:AzureTableUri", "http://account.table.core.windows.net", "'http://account.table.core.windows.net' is not a table service URI; expected https://<account>.table.core.windows.net")]
    [InlineData("Cluster:AzureTableName", "9-silos", "'9-silos' is not a table name; expected 3 to 63 letters and digits, starting with a letter")]
    [InlineData("Storage:BlobUri", "account.blob.core.windows.net", "'account.blob.core.windows.net' is not a blob service URI; expected https://<account>.blob.core.windows.net")]
    [InlineData("Cluster:DataPlane", "yes", "'yes' is not true or false.")]
    [InlineData("Cluster:ProbeTimeoutSeconds", "five", "'five' is not a number")]
    [InlineData("Http:Urls", "127.0.0.1:8080", "'127.0.0.1:8080' is not a URL Kestrel can listen on; expected http:// or https:// URLs")]
    [InlineData("Http:Urls", "http://127.0.0.1:8080;ftp://127.0.0.1:21", "'ftp://127.0.0.1:21' is not a URL Kestrel can listen on")]
    [InlineData("Worker:Device", "gpu", "'gpu' is not a device; expected auto, cpu, cuda or cuda:N")]
    [InlineData("Worker:Threads", "-2", "-2 is out of range; expected 0 (one per processor) or more.")]
    [InlineData("Storage:Container", "Bad_Name", "'Bad_Name' is not a blob container name; expected 3 to 63 lower-case letters")]
    [InlineData("Storage:KeepLast", "0", "0 is out of range; expected 1 or more checkpoints to keep.")]
    public async Task Build_BadSetting_StopsNamingTheKeyAndWhatItAccepts(string key, string value, string expected)
    {
        var error = await StartAsync($"--UNetCluster:{key}={value}");

        Assert.Contains($"UNetCluster:{key}: {expected}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Build_SecretSettingsThatDoNotParse_AreNamedButNeverEchoed()
    {
        const string blob = "AccountName=secret-account;AccountKey=c2VjcmV0LWtleQ==;NotAKeyword";
        const string redis = "127.0.0.1:6379,password=hunter2-secret,nosuchoption=1";
        var error = await StartAsync($"--UNetCluster:Storage:Blob={blob}", "--UNetCluster:Cluster:Clustering=Redis", $"--UNetCluster:Cluster:Redis={redis}");

        Assert.Contains("UNetCluster:Storage:Blob: is not an Azure Storage connection string", error.Message, StringComparison.Ordinal);
        Assert.Contains("UNetCluster:Cluster:Redis: is not a StackExchange.Redis connection string", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("c2VjcmV0LWtleQ", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Build_AzureTableClusteringWithoutItsAccount_StopsNamingTheKeysItAccepts()
    {
        var error = await StartAsync("--UNetCluster:Cluster:Clustering=AzureTable");

        Assert.Contains("UNetCluster:Cluster:AzureTable: is not set, nor UNetCluster:Cluster:AzureTableUri, but UNetCluster:Cluster:Clustering is AzureTable", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Build_AzureTableConnectionStringThatDoesNotParse_IsNamedButNeverEchoed()
    {
        var error = await StartAsync("--UNetCluster:Cluster:Clustering=AzureTable", "--UNetCluster:Cluster:AzureTable=AccountName=acct;AccountKey=dGFibGUta2V5LXNlY3JldA==;Nonsense");

        Assert.Contains("UNetCluster:Cluster:AzureTable: is not an Azure Storage connection string", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("dGFibGUta2V5LXNlY3JldA", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Build_BlobUriWithASasToken_IsRefusedWithoutEchoingTheToken()
    {
        var error = await StartAsync("--UNetCluster:Storage:BlobUri=https://account.blob.core.windows.net/?sv=2024-11-04&sig=c2FzLXNpZ25hdHVyZQ%3D");

        Assert.Contains("UNetCluster:Storage:BlobUri: 'https://account.blob.core.windows.net/?...' is not a blob service URI; expected https://<account>.blob.core.windows.net (https: a token is never sent over plain http; no query string: a SAS goes in UNetCluster:Storage:Blob).", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("c2FzLXNpZ25hdHVyZQ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Build_BlobConnectionStringAndBlobUriBoth_StopsAskingForOne()
    {
        var error = await StartAsync(
            "--UNetCluster:Storage:Blob=UseDevelopmentStorage=true", "--UNetCluster:Storage:BlobUri=https://account.blob.core.windows.net");

        Assert.Equal(["UNetCluster:Storage:BlobUri: and UNetCluster:Storage:Blob are both set; expected one of them: a connection string, or the blob service URI reached by Azure AD identity."], error.Failures);
    }

    [Fact]
    public async Task Build_SeveralBadSettings_NamesEachOfThem()
    {
        var error = await StartAsync("--UNetCluster:Cluster:SiloPort=0", "--UNetCluster:Worker:Device=tpu");

        Assert.Equal(["UNetCluster:Cluster:SiloPort", "UNetCluster:Worker:Device"], error.Failures.Select(f => f[..f.IndexOf(": ", StringComparison.Ordinal)]));
    }

    [Fact]
    public void Read_DefaultSettings_AreValid()
    {
        var configuration = new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build();
        Assert.Equal(new UNetSiloOptions().Http, UNetSiloOptionsValidator.Read(configuration).Http);
    }

    /// <summary>Builds and starts the silo's application as Program.cs does, with <paramref name="args"/> on the command line; the failure it stops with.</summary>
    private static async Task<OptionsValidationException> StartAsync(params string[] args) =>
        await Assert.ThrowsAsync<OptionsValidationException>(async () =>
        {
            await using var app = SiloApplication.Build([.. args, "--UNetCluster:Storage:Root=" + Path.GetTempPath()]);
            await app.StartAsync(TestContext.Current.CancellationToken);
        });
}
