using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;

namespace UNetCluster.Ops.Tests;

/// <summary>
/// Debian's headless chromium driven by Debian's chromedriver (scripts/setup.sh installs both; nothing is downloaded).
/// Flags for a closed network: no background connections, a fresh profile each time. Linked into the test projects that
/// open pages (the dashboard, the reports).
/// </summary>
public sealed class Browser : IDisposable
{
    public const string Chromium = "/usr/bin/chromium";
    public const string ChromeDriver = "/usr/bin/chromedriver";

    private readonly string _profile = Path.Combine(Path.GetTempPath(), "unetcluster-tests", "chromium-" + Guid.NewGuid().ToString("N"));

    public Browser()
    {
        // A missing browser is a failure, never a skip: scripts/setup.sh installs it.
        Assert.True(File.Exists(Chromium) && File.Exists(ChromeDriver), $"{Chromium} and {ChromeDriver} are needed: run scripts/setup.sh (apt-get install chromium chromium-driver).");
        var options = new ChromeOptions { BinaryLocation = Chromium };
        options.AddArguments(
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--window-size=1400,1000", $"--user-data-dir={_profile}");
        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(ChromeDriver)!, Path.GetFileName(ChromeDriver));
        service.SuppressInitialDiagnosticInformation = true;
        service.HideCommandPromptWindow = true;
        Driver = new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
    }

    public ChromeDriver Driver { get; }

    /// <summary>Waits until <paramref name="condition"/> returns a value (not null, not false).</summary>
    /// <summary>
    /// Reads from the page, again if an element went stale under it: the dashboard re-renders its tables and charts as
    /// steps commit, so an element found a moment ago may already be replaced.
    /// </summary>
    public T Read<T>(Func<IWebDriver, T> read)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return read(Driver);
            }
            catch (StaleElementReferenceException) when (attempt < 20)
            {
                Thread.Sleep(50);
            }
        }
    }

    public T WaitFor<T>(Func<IWebDriver, T> condition, TimeSpan timeout, string what)
    {
        var wait = new WebDriverWait(Driver, timeout) { PollingInterval = TimeSpan.FromMilliseconds(200), Message = what };
        wait.IgnoreExceptionTypes(typeof(NoSuchElementException), typeof(StaleElementReferenceException));
        return wait.Until(condition);
    }

    /// <summary>Saves a PNG screenshot under <c>artifacts/screenshots/</c> at the repository root, attaches it to the test, and returns its path.</summary>
    public string Screenshot(string name)
    {
        var directory = Path.Combine(UNetCluster.Tests.Common.RepositoryPaths.Root, "artifacts", "screenshots");
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, name + ".png");
        var shot = Driver.GetScreenshot();
        shot.SaveAsFile(path);
        TestContext.Current.AddAttachment(name, shot.AsByteArray, "image/png");
        return path;
    }

    public void Dispose()
    {
        Driver.Quit();
        Driver.Dispose();
        try
        {
            Directory.Delete(_profile, recursive: true);
        }
        catch (IOException)
        {
            // chromium may still be closing files; the folder is in the temp directory.
        }
    }
}
