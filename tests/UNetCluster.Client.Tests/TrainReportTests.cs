using System.Globalization;
using System.Text.Json;
using OpenQA.Selenium;
using UNetCluster.Ops.Tests;

namespace UNetCluster.Client.Tests;

/// <summary>The report.html of a <c>unet train</c> run, opened in headless chromium as a person would open it.</summary>
[Trait("Category", "Browser")]
public sealed class TrainReportTests
{
    [Fact]
    public async Task Train_ValidateEvery_WritesASelfContainedReportShowingCurvesContactSheetOptionsAndCheckpoints()
    {
        var run = Path.Combine(CliRunner.TemporaryDirectory(), "run");
        var (code, output, error) = await CliRunner.RunAsync("train", "--preset", "tiny", "--steps", "4", "--validate-every", "2", "--out", run);
        Assert.True(code == 0, error + output);
        var report = Path.Combine(run, "report.html");
        Assert.Contains($"Report: {report}", output, StringComparison.Ordinal);

        // history.csv beside it: a row per step, the validations' scores on their steps.
        var rows = File.ReadAllLines(Path.Combine(run, "history.csv"));
        Assert.StartsWith("step,time_utc,loss,", rows[0], StringComparison.Ordinal);
        var csv = rows.Skip(1).Select(r => r.Split(',')).ToList();
        Assert.Equal(["1", "2", "3", "4"], csv.Select(r => r[0]));
        Assert.Equal(["pixel-error", "pixel-error"], csv.Where(r => r[6].Length > 0).Select(r => r[6]));
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "metrics.json")));

        using var browser = new Browser();
        browser.Driver.Navigate().GoToUrl(new Uri(report).AbsoluteUri);
        Assert.StartsWith("UNetCluster report", browser.Driver.Title, StringComparison.Ordinal);
        // Nothing is fetched: no script, style sheet or image from anywhere but the page itself.
        Assert.Equal(0L, browser.Driver.ExecuteScript(
            "return document.querySelectorAll('script[src], link[href], img:not([src^=\"data:image/png;base64,\"])').length"));

        // The loss curve: one point per step, at the history's values; the axes say what they measure.
        var loss = Points(browser, "loss-chart", "loss");
        Assert.Equal([1L, 2, 3, 4], loss.Select(p => p.Step));
        Assert.Equal(csv.Select(r => double.Parse(r[2], CultureInfo.InvariantCulture)), loss.Select(p => p.Value));
        Assert.Contains("step", AxisTitles(browser, "loss-chart"));
        Assert.Contains(AxisTitles(browser, "loss-chart"), t => t.StartsWith("loss (", StringComparison.Ordinal));
        Assert.Contains("tiles per second (tiles/s)", AxisTitles(browser, "throughput-chart"));
        Assert.Equal(4, Points(browser, "throughput-chart", "tiles/s").Count);

        // The validation curve: the selection metric at steps 2 and 4, as validated.
        var validations = metrics.RootElement.GetProperty("validations").EnumerateArray().ToList();
        var curve = Points(browser, "validation-chart", "pixel-error");
        Assert.Equal([2L, 4], curve.Select(p => p.Step));
        Assert.Equal(validations.Select(v => v.GetProperty("value").GetDouble()), curve.Select(p => p.Value));

        // The contact sheet: each validation section's overlay with the scores printed for it.
        var sections = metrics.RootElement.GetProperty("validation").EnumerateArray().ToList();
        var figures = browser.Driver.FindElements(By.CssSelector("#contact-sheet figure.overlay"));
        Assert.Equal(sections.Select(s => s.GetProperty("id").GetString()), figures.Select(f => f.GetAttribute("data-section")));
        foreach (var (figure, section) in figures.Zip(sections))
        {
            Assert.True((long)browser.Driver.ExecuteScript("return arguments[0].querySelector('img').naturalWidth", figure)! >= 512, "the overlay image decodes");
            var shown = figure.FindElement(By.CssSelector("dd[data-metric='pixel error']")).Text;
            Assert.Equal(section.GetProperty("scores").GetProperty("pixelError").GetDouble().ToString("0.0000", CultureInfo.InvariantCulture), shown);
            Assert.NotEmpty(figure.FindElement(By.CssSelector("dd[data-metric='Dice']")).Text);
        }

        // The options it trained with, and its checkpoints with the best one marked.
        Assert.Equal("tiny", Option(browser, "preset"));
        Assert.Equal("4", Option(browser, "steps"));
        Assert.Equal("train", Option(browser, "data set"));
        var checkpoints = browser.Driver.FindElements(By.CssSelector("#checkpoints tbody tr[data-step]")).Select(r => r.GetAttribute("data-step")).ToList();
        Assert.Contains("4", checkpoints);
        var best = metrics.RootElement.GetProperty("checkpointStep").GetInt64().ToString(CultureInfo.InvariantCulture);
        Assert.Contains("(best)", browser.Driver.FindElement(By.CssSelector($"#checkpoints tr[data-step='{best}']")).Text, StringComparison.Ordinal);
        browser.Screenshot("train-report");
    }

    private static List<(long Step, double Value)> Points(Browser browser, string chart, string series) =>
        [.. browser.Driver.FindElements(By.CssSelector($"#{chart} g.points[data-series='{series}'] circle")).Select(c => (
            long.Parse(c.GetAttribute("data-step")!, CultureInfo.InvariantCulture),
            double.Parse(c.GetAttribute("data-value")!, CultureInfo.InvariantCulture)))];

    private static List<string> AxisTitles(Browser browser, string chart) =>
        [.. browser.Driver.FindElements(By.CssSelector($"#{chart} text.axis-title")).Select(t => t.Text)];

    private static string Option(Browser browser, string key) =>
        browser.Driver.FindElement(By.CssSelector($"#options tr[data-option='{key}'] td:nth-child(2)")).Text;
}
