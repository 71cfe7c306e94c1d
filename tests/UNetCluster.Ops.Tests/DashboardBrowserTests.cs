using System.Globalization;
using System.Net.Http.Json;
using OpenQA.Selenium;
using OpenQA.Selenium.Interactions;
using UNetCluster.Contracts.Jobs;

namespace UNetCluster.Ops.Tests;

/// <summary>The training dashboard in headless chromium against a real silo process running a job.</summary>
[Collection(SiloTests.Name)]
[Trait("Category", "Browser")]
public sealed class DashboardBrowserTests(SiloFixture silo)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Dashboard_RunningJob_ShowsMembersJobLiveCurvesAndCheckpoints()
    {
        var id = await silo.SubmitAsync("browser-live", 400, checkpointEvery: 3);
        try
        {
            await silo.WaitForAsync(id, s => s.Step >= 1, Patience);
            using var browser = new Browser();
            browser.Driver.Navigate().GoToUrl(silo.BaseAddress);
            Assert.Equal("UNetCluster", browser.Driver.Title);

            browser.WaitFor(d => d.FindElement(By.CssSelector("#members tbody tr .state")).Text == "active", Patience, "the silo listed as active");
            var row = browser.WaitFor(d => d.FindElement(By.CssSelector($"#jobs tr[data-job='{id}']")), Patience, "the job's row");
            browser.WaitFor(d => d.FindElement(By.CssSelector($"#jobs tr[data-job='{id}'] .state")).Text == "running", Patience, "the job shown running");
            Assert.Equal(id, browser.Read(d => d.FindElement(By.Id("job-id")).Text));   // a running job is selected on load

            // The loss curve gains points as steps commit, without reloading the page.
            browser.WaitFor(d => Points(d, "loss-chart") >= 2, Patience, "two points on the loss curve");
            var first = browser.Read(d => Points(d, "loss-chart"));
            browser.WaitFor(d => Points(d, "loss-chart") >= first + 3, Patience, "the loss curve growing");
            var later = browser.Read(d => Points(d, "loss-chart"));
            Assert.True(later > first);
            Assert.True(browser.Read(d => Points(d, "throughput-chart")) >= later);
            Assert.NotEmpty(browser.Read(d => d.FindElements(By.CssSelector("#loss-chart path.smooth"))));
            Assert.Contains("L", browser.Read(d => d.FindElement(By.CssSelector("#loss-chart path.raw")).GetAttribute("d")), StringComparison.Ordinal);

            // The axes say what they measure, in which unit.
            Assert.Equal(["step", "loss (mean per pixel)"], browser.Read(d => AxisTitles(d, "loss-chart")));
            Assert.Equal(["step", "throughput (tiles/s)"], browser.Read(d => AxisTitles(d, "throughput-chart")));

            // Hovering a curve reads out the values at the nearest step: the job's own, as its history holds them.
            browser.Read(d => { new Actions(d).MoveToElement(d.FindElement(By.Id("loss-chart"))).Perform(); return true; });
            var tip = browser.WaitFor(d => d.FindElement(By.Id("loss-chart-tip")) is var t && t.Displayed ? t : null, Patience, "the loss read-out on hover")!;
            var (tipStep, tipText) = browser.Read(_ => (long.Parse(tip.GetAttribute("data-step")!, CultureInfo.InvariantCulture), tip.Text));
            var history = (await silo.Http.GetFromJsonAsync<JobHistory>($"api/jobs/{id}/history", SiloFixture.Json, TestContext.Current.CancellationToken))!;
            var hovered = history.Steps.Single(p => p.Step == tipStep);
            Assert.Contains($"step {tipStep}", tipText, StringComparison.Ordinal);
            Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"loss {hovered.Loss:F4}"), tipText, StringComparison.Ordinal);
            Assert.Contains("smoothed ", tipText, StringComparison.Ordinal);

            // The checkpoint list and the members' step times follow the job.
            // The list is re-rendered as checkpoints land: read the step inside the wait, which retries a stale element.
            var checkpointStep = long.Parse(
                browser.WaitFor(d => d.FindElement(By.CssSelector("#checkpoints tbody tr td.num")).Text is { Length: > 0 } text ? text : null, Patience, "a checkpoint listed")!,
                CultureInfo.InvariantCulture);
            Assert.Equal(0, checkpointStep % 3);

            // Validations (every checkpoint interval by default) draw their curve and name the best step.
            browser.WaitFor(d => Points(d, "validation-chart") >= 1, Patience, "a validation on its chart");
            var best = browser.WaitFor(d => d.FindElement(By.Id("validation-best")).Text is { Length: > 0 } text ? text : null, Patience, "the best validation named")!;
            Assert.Matches(@"^best \d\.\d{4} at step \d+ \(threshold 0\.\d\d\)$", best);
            Assert.Equal("pixel-error", browser.Read(d => d.FindElement(By.Id("validation-metric")).Text));
            Assert.Equal(["step", "pixel-error (0-1, validation sections)"], browser.Read(d => AxisTitles(d, "validation-chart")));
            Assert.NotEmpty(browser.Read(d => d.FindElements(By.CssSelector("#validation-chart circle.dot.valmetric"))));
            browser.Read(d => { new Actions(d).MoveToElement(d.FindElement(By.Id("validation-chart"))).Perform(); return true; });
            var validationTip = browser.WaitFor(d => d.FindElement(By.Id("validation-chart-tip")) is var t && t.Displayed ? t.Text : null, Patience, "the validation read-out on hover");
            Assert.Matches(@"^step \d+\npixel-error \d\.\d{4}$", validationTip);   // the pixel error is the metric: one curve
            browser.WaitFor(d => d.FindElement(By.CssSelector("#members tbody tr td:nth-child(3)")).Text == id, Patience, "the silo's worker on the job");
            // ...with the device and precision its worker computes in and the memory its process had in use.
            Assert.Equal("cpu fp32", browser.Read(d => d.FindElement(By.CssSelector("#members tbody tr td.compute")).Text));
            Assert.Matches(@"^\d+(\.\d)? (MiB|GiB) RSS$", browser.Read(d => d.FindElement(By.CssSelector("#members tbody tr td.memory")).Text));
            var screenshot = browser.Screenshot("dashboard-running-job");
            Assert.True(new FileInfo(screenshot).Length > 10_000);

            // The Orleans Dashboard is mounted beside it.
            browser.Driver.Navigate().GoToUrl(new Uri(silo.BaseAddress, "orleans/"));
            browser.WaitFor(d => d.FindElement(By.TagName("body")).Text.Length > 20, Patience, "the Orleans Dashboard rendered");
            browser.Screenshot("orleans-dashboard");
        }
        finally
        {
            await silo.CancelAsync(id);
        }
    }

    [Fact]
    public async Task CancelButton_WithoutOrWithWrongToken_IsRefused_WithTheToken_CancelsTheJob()
    {
        var id = await silo.SubmitAsync("browser-cancel", 400);
        try
        {
            await silo.WaitForAsync(id, s => s.Step >= 1, Patience);
            using var browser = new Browser();
            browser.Driver.Navigate().GoToUrl(silo.BaseAddress);
            var button = By.CssSelector($"button.cancel[data-job='{id}']");
            browser.WaitFor(d => d.FindElement(By.CssSelector($"#jobs tr[data-job='{id}'] .state")).Text == "running", Patience, "the job shown running");

            browser.Read(d => { d.FindElement(button).Click(); return true; });
            var refused = browser.WaitFor(d => d.FindElement(By.Id("message")) is var m && m.Displayed && m.Text.Contains("refused", StringComparison.Ordinal) ? m.Text : null, Patience, "the refusal");
            Assert.Contains("401", refused, StringComparison.Ordinal);
            Assert.Contains("send 'Authorization: Bearer <token>'", refused, StringComparison.Ordinal);   // the problem's message, read by the page
            Assert.Equal(JobState.Running, (await silo.StatusAsync(id)).State);

            browser.Driver.FindElement(By.Id("token")).SendKeys("not-the-token");
            browser.Read(d => { d.FindElement(button).Click(); return true; });
            var wrong = browser.WaitFor(d => d.FindElement(By.Id("message")).Text is var t && t.Contains("403", StringComparison.Ordinal) ? t : null, Patience, "the 403 refusal");
            Assert.Contains("the bearer token is wrong", wrong, StringComparison.Ordinal);
            Assert.Equal(JobState.Running, (await silo.StatusAsync(id)).State);

            var token = browser.Driver.FindElement(By.Id("token"));
            token.Clear();
            token.SendKeys(SiloFixture.Token);
            browser.Read(d => { d.FindElement(button).Click(); return true; });
            browser.WaitFor(d => d.FindElement(By.Id("message")).Text.Contains("stopping", StringComparison.Ordinal), Patience, "the cancel accepted");
            var stopped = await silo.WaitForAsync(id, s => s.IsFinished, Patience);
            Assert.Equal(JobState.Cancelled, stopped.State);
            browser.WaitFor(d => d.FindElement(By.CssSelector($"#jobs tr[data-job='{id}'] .state")).Text == "cancelled", Patience, "the job shown cancelled");
            Assert.False(browser.Read(d => d.FindElement(button).Enabled));
            Assert.DoesNotContain(SiloFixture.Token, browser.Driver.PageSource, StringComparison.Ordinal);
            browser.Screenshot("dashboard-cancelled-job");
        }
        finally
        {
            await silo.CancelAsync(id);
        }
    }

    private static List<string> AxisTitles(IWebDriver driver, string chart) =>
        [.. driver.FindElements(By.CssSelector($"#{chart} text.axis-title")).Select(t => t.Text)];

    private static int Points(IWebDriver driver, string chart) =>
        int.Parse(driver.FindElement(By.Id(chart)).GetAttribute("data-points") ?? "0", CultureInfo.InvariantCulture);
}
