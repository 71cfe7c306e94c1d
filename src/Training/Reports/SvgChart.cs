using System.Globalization;
using System.Net;
using System.Text;

namespace UNetCluster.Training.Reports;

/// <summary>One curve of a chart: its legend name, CSS class and (step, value) points.</summary>
public sealed record ChartSeries(string Name, string CssClass, IReadOnlyList<(long X, double Y)> Points);

/// <summary>
/// A line chart as inline SVG: labelled axes with ticks, a line per series and a circle per point that carries its
/// step and value (<c>data-step</c>, <c>data-value</c>) and a tooltip (<c>&lt;title&gt;</c>) shown on hover.
/// </summary>
public static class SvgChart
{
    private const int Width = 560;
    private const int Height = 260;
    private const int Left = 64;
    private const int Right = 14;
    private const int Top = 12;
    private const int Bottom = 44;

    /// <summary>Tick spacings, as multiples of a power of ten.</summary>
    private static readonly int[] Multiples = [1, 2, 5, 10];

    public static string Render(string id, string caption, string xTitle, string yTitle, IReadOnlyList<ChartSeries> series, string empty = "no steps recorded")
    {
        ArgumentNullException.ThrowIfNull(series);
        var svg = new StringBuilder();
        var total = series.Sum(s => s.Points.Count(p => double.IsFinite(p.Y)));
        svg.Append(CultureInfo.InvariantCulture, $"<figure class=\"chart-figure\"><figcaption>{E(caption)}");
        foreach (var s in series)
        {
            svg.Append(CultureInfo.InvariantCulture, $" <span class=\"legend {E(s.CssClass)}\">{E(s.Name)}</span>");
        }

        svg.Append(CultureInfo.InvariantCulture,
            $"</figcaption>\n<svg id=\"{E(id)}\" class=\"chart\" viewBox=\"0 0 {Width} {Height}\" role=\"img\" aria-label=\"{E(caption)}\" data-points=\"{total}\">\n");
        var finite = series.SelectMany(s => s.Points).Where(p => double.IsFinite(p.Y)).ToList();
        if (finite.Count == 0)
        {
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Width / 2}\" y=\"{Height / 2}\" text-anchor=\"middle\">{E(empty)}</text>\n</svg></figure>\n");
            return svg.ToString();
        }

        var xMin = finite.Min(p => p.X);
        var xMax = Math.Max(finite.Max(p => p.X), xMin + 1);
        var yMin = finite.Min(p => p.Y);
        var yMax = finite.Max(p => p.Y);
        if (yMax - yMin < 1e-12)
        {
            (yMin, yMax) = (yMin - 0.5, yMax + 0.5);
        }

        var margin = (yMax - yMin) * 0.05;
        yMin = yMin >= 0 ? Math.Max(0, yMin - margin) : yMin - margin;
        yMax += margin;
        double X(double v) => Left + ((v - xMin) / (xMax - xMin) * (Width - Left - Right));
        double Y(double v) => Top + ((1 - ((v - yMin) / (yMax - yMin))) * (Height - Top - Bottom));

        foreach (var t in Ticks(yMin, yMax, 5))
        {
            svg.Append(CultureInfo.InvariantCulture, $"<line class=\"grid\" x1=\"{Left}\" x2=\"{Width - Right}\" y1=\"{Y(t):0.0}\" y2=\"{Y(t):0.0}\"/>");
            svg.Append(CultureInfo.InvariantCulture, $"<text class=\"tick y\" x=\"{Left - 6}\" y=\"{Y(t) + 4:0.0}\" text-anchor=\"end\">{Label(t)}</text>\n");
        }

        foreach (var t in Ticks(xMin, xMax, 6).Where(t => Math.Abs(t - Math.Round(t)) < 1e-9))
        {
            svg.Append(CultureInfo.InvariantCulture, $"<line class=\"axis-line\" x1=\"{X(t):0.0}\" x2=\"{X(t):0.0}\" y1=\"{Height - Bottom}\" y2=\"{Height - Bottom + 4}\"/>");
            svg.Append(CultureInfo.InvariantCulture, $"<text class=\"tick x\" x=\"{X(t):0.0}\" y=\"{Height - Bottom + 16}\" text-anchor=\"middle\">{t:0}</text>\n");
        }

        svg.Append(CultureInfo.InvariantCulture, $"<line class=\"axis-line\" x1=\"{Left}\" x2=\"{Width - Right}\" y1=\"{Height - Bottom}\" y2=\"{Height - Bottom}\"/>");
        svg.Append(CultureInfo.InvariantCulture, $"<line class=\"axis-line\" x1=\"{Left}\" x2=\"{Left}\" y1=\"{Top}\" y2=\"{Height - Bottom}\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text class=\"axis-title x\" x=\"{(Left + Width - Right) / 2}\" y=\"{Height - 6}\" text-anchor=\"middle\">{E(xTitle)}</text>");
        svg.Append(CultureInfo.InvariantCulture,
            $"<text class=\"axis-title y\" x=\"14\" y=\"{(Top + Height - Bottom) / 2}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {(Top + Height - Bottom) / 2})\">{E(yTitle)}</text>\n");

        foreach (var s in series)
        {
            var points = s.Points.Where(p => double.IsFinite(p.Y)).ToList();
            if (points.Count == 0)
            {
                continue;
            }

            var path = string.Concat(points.Select((p, i) => string.Create(CultureInfo.InvariantCulture, $"{(i == 0 ? "M" : "L")}{X(p.X):0.0},{Y(p.Y):0.0}")));
            svg.Append(CultureInfo.InvariantCulture, $"<path class=\"{E(s.CssClass)}\" d=\"{path}\"/>\n<g class=\"points {E(s.CssClass)}\" data-series=\"{E(s.Name)}\">");
            foreach (var (x, y) in points)
            {
                svg.Append(CultureInfo.InvariantCulture,
                    $"<circle cx=\"{X(x):0.0}\" cy=\"{Y(y):0.0}\" r=\"{(points.Count > 200 ? 1.2 : 2.5)}\" data-step=\"{x}\" data-value=\"{y:R}\"><title>{E(s.Name)}: {Label(y, 4)} at {E(xTitle)} {x}</title></circle>");
            }

            svg.Append("</g>\n");
        }

        svg.Append("</svg></figure>\n");
        return svg.ToString();
    }

    /// <summary>About <paramref name="count"/> round tick values (1, 2 or 5 times a power of ten apart) from min to max.</summary>
    public static IReadOnlyList<double> Ticks(double min, double max, int count)
    {
        var span = max - min;
        if (!(span > 0))
        {
            return [min];
        }

        var step = Math.Pow(10, Math.Floor(Math.Log10(span / count)));
        var unit = Multiples.Select(m => m * step).FirstOrDefault(s => span / s <= count, step * 10);
        var ticks = new List<double>();
        for (var t = Math.Ceiling(min / unit) * unit; t <= max + (unit * 1e-9); t += unit)
        {
            ticks.Add(Math.Round(t / unit) * unit);
        }

        return ticks;
    }

    private static string Label(double v, int digits = 3) => v.ToString("G" + digits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    private static string E(string text) => WebUtility.HtmlEncode(text);
}
