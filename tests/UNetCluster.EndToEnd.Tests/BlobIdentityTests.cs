using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Storage;
using Azure.Storage.Blobs;
using UNetCluster.Data.Storage;
using UNetCluster.Tests.Common;

namespace UNetCluster.EndToEnd.Tests;

/// <summary>
/// Blob storage and table membership by Azure AD identity, for real as far as one machine allows: a silo process
/// configured with <c>UNetCluster:Storage:BlobUri</c> and <c>UNetCluster:Cluster:AzureTableUri</c> and no connection
/// string gets its tokens from Azure.Identity's default credential chain (here its managed-identity source, pointed at a
/// token endpoint on loopback, as App Service's is), joins its cluster through the table and keeps a job's record and
/// checkpoints in the blobs of an Azurite that requires bearer tokens (<c>--oauth basic</c>, over https with a
/// certificate the silo process trusts through <c>SSL_CERT_FILE</c>). Azurite checks the token's issuer, audience and
/// lifetime, not its signature (it cannot reach Azure AD), so the token endpoint issues unsigned ones.
/// </summary>
[Trait("Category", "Blob")]
public sealed class BlobIdentityTests
{
    private const string Tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    private const string Container = "identity-e2e";

    [Fact]
    public async Task SiloWithBlobUriAndTableUri_GetsATokenFromTheCredentialChain_JoinsThroughTheTableAndKeepsAJobsRecordInAzuriteThatRequiresIt()
    {
        var ct = TestContext.Current.CancellationToken;
        var folder = TestBlobStores.TemporaryDirectory();
        using var certificate = LoopbackCertificate(folder, out var certPath, out var keyPath);
        await using var azurite = new AzuriteFixture { Https = true, Tables = true, SharedArguments = ["--oauth", "basic", "--cert", certPath, "--key", keyPath] };
        await azurite.InitializeAsync();
        _ = azurite.ConnectionString;   // throws with the reason when Azurite did not start
        using var tokens = new TokenEndpoint();

        var httpPort = LoopbackPorts.Next();
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = AppContext.BaseDirectory };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "UNetCluster.Silo.dll"));
        foreach (var (key, value) in new Dictionary<string, string>
        {
            ["UNetCluster__Cluster__SiloPort"] = LoopbackPorts.Next().ToString(CultureInfo.InvariantCulture),
            ["UNetCluster__Cluster__GatewayPort"] = LoopbackPorts.Next().ToString(CultureInfo.InvariantCulture),
            ["UNetCluster__Http__Urls"] = $"http://127.0.0.1:{httpPort}",
            ["UNetCluster__Http__Token"] = "identity-test-token",
            // Membership in the account's table and blobs, both by the service URI and the credential chain.
            ["UNetCluster__Cluster__Clustering"] = "AzureTable",
            ["UNetCluster__Cluster__AzureTableUri"] = azurite.TableServiceUri,
            ["UNetCluster__Cluster__ClusterId"] = "identity-" + Guid.NewGuid().ToString("N")[..8],
            ["UNetCluster__Cluster__DataPlaneSecret"] = Convert.ToHexString(RandomNumberGenerator.GetBytes(32)),
            ["UNetCluster__Storage__BlobUri"] = azurite.BlobServiceUri,
            ["UNetCluster__Storage__Container"] = Container,
            ["UNetCluster__Worker__Threads"] = "1",
            // The managed-identity source of DefaultAzureCredential, as on App Service: its token endpoint and header.
            ["IDENTITY_ENDPOINT"] = tokens.Endpoint,
            ["IDENTITY_HEADER"] = tokens.Header,
            ["SSL_CERT_FILE"] = certPath,   // the silo trusts Azurite's certificate (and, in this test, nothing else)
        })
        {
            start.Environment[key] = value;
        }

        using var silo = new ChildProcess("identity silo", start);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}/"), Timeout = TimeSpan.FromSeconds(60) };
        await ChildProcess.WaitForPortAsync(httpPort, silo, TimeSpan.FromSeconds(90));

        using var submit = new HttpRequestMessage(HttpMethod.Post, "api/jobs")
        {
            Content = new StringContent("""{"id": "by-identity", "preset": "tiny", "steps": 2}""", Encoding.UTF8, "application/json"),
        };
        submit.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "identity-test-token");
        using (var response = await http.SendAsync(submit, ct))
        {
            Assert.True(response.StatusCode == HttpStatusCode.Created, $"{response.StatusCode}: {await response.Content.ReadAsStringAsync(ct)}\n{silo.Output}");
        }

        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
        string state;
        while ((state = JsonDocument.Parse(await http.GetStringAsync(new Uri("api/jobs/by-identity", UriKind.Relative), ct)).RootElement.GetProperty("state").GetString()!)
            is not ("completed" or "Completed" or "failed" or "Failed" or "cancelled" or "Cancelled"))
        {
            Assert.True(DateTime.UtcNow < deadline, $"the job did not finish: {state}\n{silo.Output}");
            await Task.Delay(300, ct);
        }

        Assert.True(state.Equals("completed", StringComparison.OrdinalIgnoreCase), $"{state}\n{silo.Output}");

        // The silo asked the credential chain for a storage token, and its record and checkpoint are in the container.
        Assert.Contains(tokens.Resources, r => r.StartsWith("https://storage.azure.com", StringComparison.Ordinal));
        var blobs = new AzureBlobStore(new BlobContainerClient(new Uri($"{azurite.BlobServiceUri}/{Container}"),
            new StorageSharedKeyCredential(AzuriteFixture.AccountName, AzuriteFixture.AccountKey), Trusting(certificate)));
        Assert.NotNull(await blobs.ReadAsync("jobs/by-identity/record.json", ct));
        Assert.NotNull(await blobs.ReadAsync("jobs/by-identity/latest", ct));
        var table = new Azure.Data.Tables.TableClient(new Uri(azurite.TableServiceUri), "OrleansSiloInstances",
            new Azure.Data.Tables.TableSharedKeyCredential(AzuriteFixture.AccountName, AzuriteFixture.AccountKey), TrustingTables(certificate));
        var members = new List<string>();
        await foreach (var row in table.QueryAsync<Azure.Data.Tables.TableEntity>(cancellationToken: ct))
        {
            members.Add(row.GetString("Status") ?? "");
        }

        Assert.Contains("Active", members);   // the silo's membership row, written with its token

        // And this Azurite does check bearer tokens: an expired one is refused.
        var expired = new BlobContainerClient(new Uri($"{azurite.BlobServiceUri}/{Container}"), new StaticToken(TokenEndpoint.Jwt(DateTimeOffset.UtcNow.AddHours(-2))), Trusting(certificate));
        var refused = await Assert.ThrowsAsync<Azure.RequestFailedException>(() => expired.GetPropertiesAsync(cancellationToken: ct));
        Assert.Contains(refused.Status, new[] { 401, 403 });
    }

    /// <summary>A self-signed certificate for 127.0.0.1, written as PEM files for Azurite (and as the silo's trusted roots).</summary>
    private static X509Certificate2 LoopbackCertificate(string folder, out string certPath, out string keyPath)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        certPath = Path.Combine(folder, "azurite.crt");
        keyPath = Path.Combine(folder, "azurite.key");
        File.WriteAllText(certPath, certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        return certificate;
    }

    /// <summary>Client options whose transport trusts exactly <paramref name="certificate"/> (this test process's own reads).</summary>
    private static BlobClientOptions Trusting(X509Certificate2 certificate)
    {
        var options = AzureBlobStore.CreateOptions(maxRetries: 0);
#pragma warning disable CA2000 // the handler lives as long as the client's transport
        var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, cert, _, _) => cert?.Thumbprint == certificate.Thumbprint };
#pragma warning restore CA2000
        options.Transport = new HttpClientTransport(handler);
        return options;
    }

    private static Azure.Data.Tables.TableClientOptions TrustingTables(X509Certificate2 certificate)
    {
        var options = new Azure.Data.Tables.TableClientOptions();
#pragma warning disable CA2000 // the handler lives as long as the client's transport
        var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, cert, _, _) => cert?.Thumbprint == certificate.Thumbprint };
#pragma warning restore CA2000
        options.Transport = new HttpClientTransport(handler);
        return options;
    }

    private sealed class StaticToken(string token) : TokenCredential
    {
        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken) => new(token, DateTimeOffset.UtcNow.AddHours(1));

        public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) => new(GetToken(requestContext, cancellationToken));
    }

    /// <summary>
    /// A managed-identity token endpoint on loopback (App Service's protocol, api-version 2019-08-01): it answers a GET
    /// that carries the identity header with an unsigned token for the resource asked, valid for an hour, and records it.
    /// </summary>
    private sealed class TokenEndpoint : IDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly List<string> _resources = [];

        public TokenEndpoint()
        {
            var port = LoopbackPorts.Next();
            Endpoint = $"http://127.0.0.1:{port}/msi/token";
            _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            _listener.Start();
            _ = Task.Run(ServeAsync);
        }

        public string Endpoint { get; }

        public string Header { get; } = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));

        public IReadOnlyList<string> Resources
        {
            get
            {
                lock (_resources)
                {
                    return [.. _resources];
                }
            }
        }

        public static string Jwt(DateTimeOffset expires)
        {
            static string Part(object value) => Base64Url(JsonSerializer.SerializeToUtf8Bytes(value));
            var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            return Part(new { alg = "RS256", typ = "JWT" }) + "." + Part(new Dictionary<string, object>
            {
                ["aud"] = "https://storage.azure.com",
                ["iss"] = $"https://sts.windows.net/{Tenant}/",
                ["iat"] = now - 60,
                ["nbf"] = now - 60,
                ["exp"] = expires.ToUnixTimeSeconds(),
                ["oid"] = "6d3c3b7e-0000-4000-8000-000000000001",
                ["tid"] = Tenant,
            }) + "." + Base64Url([1, 2, 3]);
        }

        public void Dispose() => _listener.Close();

        private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

        private async Task ServeAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
                {
                    return;
                }

                var resource = context.Request.QueryString["resource"] ?? "";
                var authorised = context.Request.Headers["X-IDENTITY-HEADER"] == Header;
                byte[] body;
                if (authorised)
                {
                    lock (_resources)
                    {
                        _resources.Add(resource);
                    }

                    var expires = DateTimeOffset.UtcNow.AddHours(1);
                    body = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string>
                    {
                        ["access_token"] = Jwt(expires),
                        ["expires_on"] = expires.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
                        ["resource"] = resource,
                        ["token_type"] = "Bearer",
                    });
                }
                else
                {
                    context.Response.StatusCode = 401;
                    body = "{\"error\": \"missing X-IDENTITY-HEADER\"}"u8.ToArray();
                }

                context.Response.ContentType = "application/json";
                await context.Response.OutputStream.WriteAsync(body);
                context.Response.Close();
            }
        }
    }
}
