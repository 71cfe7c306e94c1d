using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using UNetCluster.Contracts.Jobs;
using UNetCluster.Model.Checkpoints;
using UNetCluster.Model.Training;
using UNetCluster.Training.Jobs;

namespace UNetCluster.Training.Reports;

/// <summary>One picture of a report's contact sheet: a validation section's overlay and its scores.</summary>
/// <param name="Scores">Metric name and value, in the order shown (e.g. pixel error, IoU, Dice, Rand error).</param>
public sealed record ReportOverlay(string Name, byte[] Png, IReadOnlyList<KeyValuePair<string, double>> Scores);

/// <summary>What a run's report shows.</summary>
/// <param name="Title">The job id or run folder.</param>
/// <param name="Status">The job's last status: its state, steps, spec.</param>
/// <param name="History">Its steps, checkpoints and validations.</param>
/// <param name="Overlays">The contact sheet (may be empty).</param>
/// <param name="OverlayNote">What the contact sheet shows (the checkpoint and threshold), or why it is empty.</param>
/// <param name="BestCheckpointStep">The checkpoint marked best by validation, if any.</param>
public sealed record RunReportContent(
    string Title, JobStatus Status, JobHistory History, IReadOnlyList<ReportOverlay> Overlays, string? OverlayNote = null, long? BestCheckpointStep = null);

/// <summary>
/// A run's <c>report.html</c>: one self-contained page (inline CSS and SVG, images as data: URIs, no script or network
/// needed to view it) with the loss, throughput and validation curves on labelled axes, a contact sheet of validation
/// overlays with their scores, the run's options and its checkpoints. Every point of a curve is an SVG circle carrying
/// its step and value (<c>data-step</c>, <c>data-value</c>) and a tooltip, so a reader (or a test) can read them back.
/// </summary>
public static class RunReport
{
    public const string FileName = "report.html";

    public static string Render(RunReportContent content)
    {
        ArgumentNullException.ThrowIfNull(content);
        var status = content.Status;
        var history = content.History;
        var html = new StringBuilder();
        html.Append(CultureInfo.InvariantCulture, $"""
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>UNetCluster report: {E(content.Title)}</title>
            <style>{Style}</style>
            </head>
            <body>
            <h1>UNetCluster training report <span class="sub">{E(content.Title)}</span></h1>
            <p class="facts" id="summary">{E(Summary(status, history))}</p>

            """);

        var steps = history.Steps;
        html.Append("<section class=\"charts\">\n");
        html.Append(SvgChart.Render("loss-chart", "Loss per step", "step", $"loss ({LossName(status.Spec)})",
            [new("loss", "raw", steps.Select(p => (p.Step, p.Loss)).ToList()),
             new("smoothed", "smooth", steps.Where(p => p.SmoothedLoss is not null).Select(p => (p.Step, p.SmoothedLoss!.Value)).ToList())]));
        html.Append(SvgChart.Render("throughput-chart", "Throughput", "step", "tiles per second (tiles/s)",
            [new("tiles/s", "tput", steps.Select(p => (p.Step, p.TilesPerSecond)).ToList())]));
        var validations = history.Validations;
        var metric = validations.Count > 0 ? validations[^1].Metric : status.Spec.SelectBy ?? "pixel-error";
        // The selection metric on the held-out sections, and the pixel error beside it when that is not the metric.
        List<ChartSeries> validationSeries = [new(metric, "valmetric", validations.Select(v => (v.Step, v.Value)).ToList())];
        if (metric != "pixel-error")
        {
            validationSeries.Add(new("pixel-error", "valpixel", validations.Select(v => (v.Step, v.PixelError)).ToList()));
        }

        html.Append(SvgChart.Render("validation-chart", "Validation on the held-out sections", "step", metric == "pixel-error" ? "pixel error (0-1)" : $"{metric} (0-1)",
            validationSeries, empty: "no validation ran"));
        html.Append("</section>\n");

        html.Append("<h2>Validation overlays</h2>\n");
        if (content.OverlayNote is { } note)
        {
            html.Append(CultureInfo.InvariantCulture, $"<p class=\"note\" id=\"overlay-note\">{E(note)}</p>\n");
        }

        html.Append("<section id=\"contact-sheet\">\n");
        foreach (var overlay in content.Overlays)
        {
            html.Append(CultureInfo.InvariantCulture, $"<figure class=\"overlay\" data-section=\"{E(overlay.Name)}\"><img alt=\"overlay of {E(overlay.Name)}\" src=\"data:image/png;base64,{Convert.ToBase64String(overlay.Png)}\">");
            html.Append(CultureInfo.InvariantCulture, $"<figcaption><span class=\"name\">{E(overlay.Name)}</span><dl class=\"scores\">");
            foreach (var (name, value) in overlay.Scores)
            {
                html.Append(CultureInfo.InvariantCulture, $"<dt>{E(name)}</dt><dd data-metric=\"{E(name)}\">{value:0.0000}</dd>");
            }

            html.Append("</dl></figcaption></figure>\n");
        }

        if (content.Overlays.Count == 0)
        {
            html.Append("<p class=\"empty\">No validation overlays.</p>\n");
        }

        html.Append("</section>\n");
        html.Append("<p class=\"note\">Overlays: green = hit, magenta = false positive, blue = miss (each image's legend names the class marked).</p>\n");

        html.Append("<h2>Validations</h2>\n<table id=\"validations\"><thead><tr><th class=\"num\">Step</th><th>Metric</th><th class=\"num\">Value</th><th class=\"num\">Threshold</th>" +
            "<th class=\"num\">Pixel error</th><th class=\"num\">Rand error</th><th class=\"num\">Dice</th><th class=\"num\">IoU</th><th class=\"num\">Seconds</th></tr></thead><tbody>\n");
        foreach (var v in validations)
        {
            html.Append(CultureInfo.InvariantCulture,
                $"<tr{(v.Improved ? " class=\"improved\"" : "")}><td class=\"num\">{v.Step}</td><td>{E(v.Metric)}</td><td class=\"num\">{v.Value:0.0000}</td><td class=\"num\">{v.Threshold:0.00}</td>" +
                $"<td class=\"num\">{v.PixelError:0.0000}</td><td class=\"num\">{v.RandError:0.0000}</td><td class=\"num\">{v.Dice:0.0000}</td><td class=\"num\">{v.IoU:0.0000}</td><td class=\"num\">{v.Seconds:0.0}</td></tr>\n");
        }

        html.Append(validations.Count == 0 ? "<tr><td colspan=\"9\" class=\"empty\">none</td></tr>\n" : "");
        html.Append("</tbody></table>\n");

        html.Append("<h2>Checkpoints</h2>\n<table id=\"checkpoints\"><thead><tr><th class=\"num\">Step</th><th>Written (UTC)</th><th class=\"num\">Seconds</th><th class=\"num\">Size</th><th>Location</th></tr></thead><tbody>\n");
        foreach (var c in history.Checkpoints.OrderBy(c => c.Step))
        {
            var best = c.Step == content.BestCheckpointStep;
            html.Append(CultureInfo.InvariantCulture,
                $"<tr data-step=\"{c.Step}\"{(best ? " class=\"best\"" : "")}><td class=\"num\">{c.Step}{(best ? " (best)" : "")}</td><td>{c.At.UtcDateTime:yyyy-MM-dd HH:mm:ss}</td>" +
                $"<td class=\"num\">{c.Seconds:0.00}</td><td class=\"num\">{(c.Bytes > 0 ? $"{c.Bytes / 1048576.0:0.0} MiB" : "-")}</td><td>{E(c.Location)}</td></tr>\n");
        }

        html.Append(history.Checkpoints.Count == 0 ? "<tr><td colspan=\"5\" class=\"empty\">none</td></tr>\n" : "");
        html.Append("</tbody></table>\n");

        html.Append("<h2>Options</h2>\n<table id=\"options\"><thead><tr><th>Option</th><th>Value</th></tr></thead><tbody>\n");
        foreach (var (key, value) in Options(status.Spec))
        {
            html.Append(CultureInfo.InvariantCulture, $"<tr data-option=\"{E(key)}\"><td>{E(key)}</td><td>{E(value)}</td></tr>\n");
        }

        html.Append("</tbody></table>\n");
        html.Append(CultureInfo.InvariantCulture, $"<footer>Written {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC by UNetCluster; history.csv beside this file holds every point.</footer>\n</body>\n</html>\n");
        return html.ToString();
    }

    /// <summary>
    /// The options a run trained with: the job's data set, preset and seed, then every field of the training options the
    /// spec resolves to (nested fields as <c>model.baseChannels</c>), so the report shows what ran, not only what was given.
    /// </summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Options(JobSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var rows = new List<KeyValuePair<string, string>>
        {
            new("data set", spec.DataSet),
            new("preset", spec.Preset),
        };
        JsonElement resolved;
        try
        {
            resolved = JsonSerializer.SerializeToElement(JobOptions.Build(spec), CheckpointManifest.JsonOptions);
        }
        catch (ArgumentException)
        {
            // A spec that no longer resolves (a preset renamed since): show what was given.
            resolved = JsonSerializer.SerializeToElement(spec, CheckpointManifest.JsonOptions);
        }

        Flatten(resolved, string.Empty, rows);
        return rows;
    }

    private static void Flatten(JsonElement element, string prefix, List<KeyValuePair<string, string>> rows)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    Flatten(property.Value, prefix.Length == 0 ? property.Name : $"{prefix}.{property.Name}", rows);
                }

                break;
            case JsonValueKind.Null:
            case JsonValueKind.Undefined:
                break;
            case JsonValueKind.Array:
                rows.Add(new(prefix, string.Join(", ", element.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? e.GetString() : e.GetRawText()))));
                break;
            case JsonValueKind.String:
                rows.Add(new(prefix, element.GetString() ?? string.Empty));
                break;
            default:
                rows.Add(new(prefix, element.GetRawText()));
                break;
        }
    }

    private static string Summary(JobStatus status, JobHistory history)
    {
        var parts = new List<string>
        {
            status.State.ToString().ToLowerInvariant(),
            string.Create(CultureInfo.InvariantCulture, $"step {status.Step} of {status.Steps}"),
            $"{Durations.Format(status.Elapsed)} elapsed",
            string.Create(CultureInfo.InvariantCulture, $"{status.TilesPerSecond:0.00} tiles/s"),
            string.Create(CultureInfo.InvariantCulture, $"{status.Parameters / 1e6:0.00} M parameters"),
            string.Create(CultureInfo.InvariantCulture, $"{status.Workers.Count} worker(s)"),
        };
        if (status.SmoothedLoss is { } loss)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"loss {loss:0.0000}"));
        }

        if (status.BestValidation is { } best)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"best {best.Metric} {best.Value:0.0000} at step {best.Step} (threshold {best.Threshold:0.00})"));
        }

        if (status.StopReason is { } stop)
        {
            parts.Add(stop);
        }

        if (status.Error is { } error)
        {
            parts.Add("error: " + error);
        }

        parts.Add(string.Create(CultureInfo.InvariantCulture, $"{history.Steps.Count} points, {history.Checkpoints.Count} checkpoints, {history.Validations.Count} validations"));
        return string.Join(" · ", parts);
    }

    private static string LossName(JobSpec spec)
    {
        try
        {
            return JsonNamingPolicy.KebabCaseLower.ConvertName(JobOptions.Build(spec).Loss.ToString());
        }
        catch (ArgumentException)
        {
            return spec.Loss ?? "as trained";
        }
    }

    private static string E(string? text) => WebUtility.HtmlEncode(text ?? string.Empty);

    private const string Style = """
        body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d2330; background: #f6f7f9; }
        h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; } .sub { color: #667; font-weight: normal; }
        .facts { color: #334; } .empty, .note { color: #667; } footer { margin-top: 32px; color: #889; font-size: 12px; }
        .charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; }
        figure.chart-figure { margin: 0; background: #fff; border: 1px solid #dde; border-radius: 6px; padding: 8px; }
        figcaption { font-weight: 600; margin-bottom: 4px; } .legend { font-weight: normal; margin-left: 10px; font-size: 12px; }
        .legend::before { content: ""; display: inline-block; width: 14px; height: 3px; margin-right: 4px; vertical-align: middle; background: currentColor; }
        svg.chart { width: 100%; height: auto; display: block; }
        svg .grid { stroke: #e4e6ea; } svg .axis-line { stroke: #889; } svg text { font: 11px system-ui, sans-serif; fill: #556; }
        svg text.axis-title { font-size: 12px; fill: #334; }
        svg path { fill: none; stroke-width: 1.5; } svg circle { stroke: none; } svg circle:hover { r: 5; }
        .raw { color: #9fb3d9; stroke: #9fb3d9; fill: #9fb3d9; } .smooth { color: #1f4fb4; stroke: #1f4fb4; fill: #1f4fb4; }
        .tput { color: #2c8c4a; stroke: #2c8c4a; fill: #2c8c4a; } .valmetric { color: #b4441f; stroke: #b4441f; fill: #b4441f; }
        .valpixel { color: #7a4fb4; stroke: #7a4fb4; fill: #7a4fb4; }
        svg path.raw, svg path.smooth, svg path.tput, svg path.valmetric, svg path.valpixel { fill: none; }
        #contact-sheet { display: flex; flex-wrap: wrap; gap: 12px; }
        figure.overlay { margin: 0; background: #fff; border: 1px solid #dde; border-radius: 6px; padding: 6px; width: 260px; }
        figure.overlay img { width: 100%; image-rendering: pixelated; display: block; }
        dl.scores { display: grid; grid-template-columns: auto auto; margin: 4px 0 0; font-size: 12px; } dl.scores dd { margin: 0; text-align: right; font-variant-numeric: tabular-nums; }
        table { border-collapse: collapse; background: #fff; } th, td { border: 1px solid #dde; padding: 3px 8px; text-align: left; }
        td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; } tr.best, tr.improved { background: #eef7ee; }
        """;
}
