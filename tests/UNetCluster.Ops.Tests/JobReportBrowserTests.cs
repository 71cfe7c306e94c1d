using System.Globalization;
using System.Net.Http.Json;
using OpenQA.Selenium;
using UNetCluster.Contracts.Jobs;

namespace UNetCluster.Ops.Tests;

/// <summary>The report a finished cluster job leaves beside its record in storage, opened in headless chromium.</summary>
[Collection(SiloTests.Name)]
[Trait("Category", "Browser")]
public sealed class JobReportBrowserTests(SiloFixture silo)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task FinishedJob_WritesReportBesideItsRecord_ShowingItsCurvesValidationsOptionsAndCheckpoints()
    {
        var id = await silo.SubmitAsync("report-job", 4, checkpointEvery: 2);
        var status = await silo.WaitForAsync(id, s => s.IsFinished, Patience);
        Assert.Equal(JobState.Completed, status.State);
        var report = Path.Combine(silo.StorageRoot, "jobs", id, "report.html");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!File.Exists(report) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200, TestContext.Current.CancellationToken);   // written right after the job's final status
        }

        Assert.True(File.Exists(report), $"{report} missing\n{SiloFixture.Tail(silo.Silo.Output)}");
        var history = (await silo.Http.GetFromJsonAsync<JobHistory>($"api/jobs/{id}/history", SiloFixture.Json, TestContext.Current.CancellationToken))!;
        var csv = File.ReadAllLines(Path.Combine(silo.StorageRoot, "jobs", id, "history.csv"));
        Assert.Equal(["1", "2", "3", "4"], csv.Skip(1).Select(r => r.Split(',')[0]));

        using var browser = new Browser();
        browser.Driver.Navigate().GoToUrl(new Uri(report).AbsoluteUri);
        Assert.Equal($"UNetCluster report: {id}", browser.Driver.Title);
        Assert.Equal(0L, browser.Driver.ExecuteScript("return document.querySelectorAll('script[src], link[href], img:not([src^=\"data:\"])').length"));

        var loss = Points(browser, "loss-chart", "loss");
        Assert.Equal(history.Steps.Select(p => p.Step), loss.Select(p => p.Step));
        Assert.Equal(history.Steps.Select(p => p.Loss), loss.Select(p => p.Value));
        var validation = Points(browser, "validation-chart", "pixel-error");
        Assert.Equal([2L, 4], validation.Select(p => p.Step));
        Assert.Equal(history.Validations.Select(v => v.Value), validation.Select(p => p.Value));
        Assert.Contains("pixel error (0-1)", browser.Driver.FindElements(By.CssSelector("#validation-chart text.axis-title")).Select(t => t.Text));

        Assert.Equal("isbi2012-em", Option(browser, "data set"));
        Assert.Equal("tiny", Option(browser, "preset"));
        Assert.Equal("2", Option(browser, "checkpointEvery"));
        Assert.Equal(
            history.Checkpoints.Select(c => c.Step.ToString(CultureInfo.InvariantCulture)).Order(),
            browser.Driver.FindElements(By.CssSelector("#checkpoints tbody tr[data-step]")).Select(r => r.GetAttribute("data-step")!).Order());
        Assert.Contains("(best)", browser.Driver.FindElement(By.CssSelector($"#checkpoints tr[data-step='{status.BestValidation!.Step}']")).Text, StringComparison.Ordinal);
        Assert.Contains("No overlays", browser.Driver.FindElement(By.Id("overlay-note")).Text, StringComparison.Ordinal);
        browser.Screenshot("cluster-job-report");
    }

    private static List<(long Step, double Value)> Points(Browser browser, string chart, string series) =>
        [.. browser.Driver.FindElements(By.CssSelector($"#{chart} g.points[data-series='{series}'] circle")).Select(c => (
            long.Parse(c.GetAttribute("data-step")!, CultureInfo.InvariantCulture),
            double.Parse(c.GetAttribute("data-value")!, CultureInfo.InvariantCulture)))];

    private static string Option(Browser browser, string key) =>
        browser.Driver.FindElement(By.CssSelector($"#options tr[data-option='{key}'] td:nth-child(2)")).Text;
}
