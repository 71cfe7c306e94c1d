using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using OpenQA.Selenium;
using UNetCluster.Ops.Tests;

namespace UNetCluster.Client.Tests;

/// <summary><c>unet train --dashboard</c>: the live dashboard of the in-process silo, on loopback, for whoever holds its key.</summary>
[Trait("Category", "Browser")]
public sealed partial class TrainDashboardTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(180);

    [Fact]
    public async Task Train_Dashboard_ServesTheLivePageOnLoopbackToTheHolderOfThePrintedUrlOnly()
    {
        var run = Path.Combine(CliRunner.TemporaryDirectory(), "run");
        var printed = new StringWriter();
        var output = TextWriter.Synchronized(printed);
        var error = TextWriter.Synchronized(new StringWriter());
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var training = Task.Run(() => Cli.RunAsync(["train", "--preset", "tiny", "--steps", "400", "--dashboard", "--out", run], output, error, stop.Token), TestContext.Current.CancellationToken);
        try
        {
            var match = await WaitForAsync(() => DashboardUrl().Match(Read(output, printed)), m => m.Success, training, "the dashboard's URL printed");
            var url = new Uri(match.Groups["url"].Value);
            Assert.Equal("127.0.0.1", url.Host);

            // Nothing is served without the key: not the page, not the API.
            using (var anonymous = new HttpClient { BaseAddress = new Uri(url.GetLeftPart(UriPartial.Authority)) })
            {
                foreach (var path in new[] { "/", "/api/jobs", "/api/jobs/train/events", "/dashboard/dashboard.js" })
                {
                    using var refused = await anonymous.GetAsync(path, TestContext.Current.CancellationToken);
                    Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
                    Assert.Contains("session key", await refused.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
                }

                using var wrongKey = await anonymous.GetAsync("/?session=not-the-key", TestContext.Current.CancellationToken);
                Assert.Equal(HttpStatusCode.Unauthorized, wrongKey.StatusCode);
            }

            // The printed URL opens the dashboard (its key traded for a cookie, gone from the address bar) showing the run live.
            using var browser = new Browser();
            browser.Driver.Navigate().GoToUrl(url);
            Assert.Equal("UNetCluster", browser.Driver.Title);
            Assert.DoesNotContain("session=", browser.Driver.Url, StringComparison.Ordinal);
            browser.WaitFor(d => d.FindElement(By.CssSelector("#jobs tr[data-job='train'] .state")).Text == "running", Patience, "the run shown running");
            browser.WaitFor(d => Points(d, "loss-chart") >= 2, Patience, "the loss curve drawn from the run's steps");
            Assert.Equal("train", browser.Read(d => d.FindElement(By.Id("job-id")).Text));
            browser.Screenshot("train-dashboard");
        }
        finally
        {
            await stop.CancelAsync();   // as Ctrl+C: the run stops at a step boundary and writes a checkpoint
        }

        var code = await training;
        Assert.True(code == Cli.Cancelled, $"exit {code}\n{Read(output, printed)}");
        Assert.True(File.Exists(Path.Combine(run, "report.html")), "a cancelled run's report");
    }

    [Fact]
    public async Task Train_DashboardPortOutOfRange_IsRefusedNamingTheOptionAndWhatItAccepts()
    {
        var run = Path.Combine(CliRunner.TemporaryDirectory(), "run");

        var (code, _, error) = await CliRunner.RunAsync("train", "--preset", "tiny", "--steps", "2", "--dashboard", "70000", "--out", run);

        Assert.Equal(Cli.BadInput, code);
        Assert.Contains("--dashboard 70000 is not a port: expected a port from 1 to 65535", error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(run));
    }

    private static string Read(TextWriter synchronized, StringWriter inner)
    {
        lock (synchronized)
        {
            return inner.ToString();
        }
    }

    private static async Task<T> WaitForAsync<T>(Func<T> read, Func<T, bool> done, Task<int> training, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            var value = read();
            if (done(value))
            {
                return value;
            }

            Assert.False(training.IsCompleted, $"the run ended before {what}");
            Assert.True(DateTime.UtcNow < deadline, $"no {what} in {Patience}");
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
    }

    private static int Points(IWebDriver driver, string chart) =>
        int.Parse(driver.FindElement(By.Id(chart)).GetAttribute("data-points") ?? "0", CultureInfo.InvariantCulture);

    [GeneratedRegex(@"Dashboard: (?<url>http://127\.0\.0\.1:\d+/\?session=[A-Za-z0-9_-]+)")]
    private static partial Regex DashboardUrl();
}
