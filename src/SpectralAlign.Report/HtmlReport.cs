using System.Globalization;
using System.Net;
using System.Text;
using SpectralAlign.Telemetry;

namespace SpectralAlign.Report;

/// <summary>The one-page HTML report: the run's tags, a per-layer summary, the alerts and markers, and the PNGs.</summary>
internal static class HtmlReport
{
    public static string Render(RunLog log, string source, string overviewImage, IReadOnlyList<(string Layer, string Image)> layerImages)
    {
        var html = new StringBuilder();
        html.AppendLine("<!DOCTYPE html>");
        html.AppendLine("<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Spectral alignment report</title>");
        html.AppendLine("<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse;margin:1em 0}"
            + "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}"
            + "img{max-width:100%;border:1px solid #ddd;margin:0.5em 0}.alert{color:#d62728}</style></head><body>");
        html.AppendLine("<h1>Spectral alignment report</h1>");
        html.Append("<p>Run log <code>").Append(E(source)).Append("</code>");
        if (log.Created is { } created)
            html.Append(", created ").Append(E(created.ToString("u", CultureInfo.InvariantCulture)));
        html.Append(". ").Append(log.Measurements.Count).Append(" measurements of ").Append(log.Layers.Count).Append(" layers, ")
            .Append(log.Alerts.Count).Append(" alert").Append(log.Alerts.Count == 1 ? "" : "s").Append('.');
        if (log.TruncatedTail)
            html.Append(" The last line was incomplete (the writer was stopped mid-record) and was skipped.");
        html.AppendLine("</p>");
        if (log.Tags.Count > 0)
            html.Append("<p>").Append(string.Join(", ", log.Tags.Select(t => $"<b>{E(t.Key)}</b> = {E(t.Value)}"))).AppendLine("</p>");

        html.AppendLine("<h2>Alerts</h2>");
        if (log.Alerts.Count == 0)
        {
            html.AppendLine("<p>No alerts.</p>");
        }
        else
        {
            html.AppendLine("<table><tr><th>step</th><th>layer</th><th>reason</th><th>episode since</th><th>mean SA</th><th>D</th><th>detail</th></tr>");
            foreach (var a in log.Alerts)
            {
                html.Append("<tr class=\"alert\"><td class=\"n\">").Append(a.Step).Append("</td><td>").Append(E(a.Layer)).Append("</td><td>").Append(E(a.Reason))
                    .Append("</td><td class=\"n\">").Append(a.EpisodeStartStep).Append("</td><td class=\"n\">").Append(a.Measurement is null ? "—" : F(a.Stats.Mean)).Append("</td><td class=\"n\">")
                    .Append(a.Measurement is null ? "—" : F(a.Stats.SignDiversity)).Append("</td><td>").Append(E(a.Detail)).AppendLine("</td></tr>");
            }

            html.AppendLine("</table>");
        }

        if (log.Markers.Count > 0)
        {
            html.AppendLine("<h2>Markers</h2><table><tr><th>step</th><th>name</th><th>detail</th></tr>");
            foreach (var m in log.Markers)
                html.Append("<tr><td class=\"n\">").Append(m.Step).Append("</td><td>").Append(E(m.Name)).Append("</td><td>").Append(E(m.Detail)).AppendLine("</td></tr>");
            html.AppendLine("</table>");
        }

        html.AppendLine("<h2>Layers</h2>");
        html.AppendLine("<table><tr><th>layer</th><th>measurements</th><th>first step</th><th>last step</th><th>lowest D</th><th>at step</th><th>largest |mean SA|</th><th>at step</th><th>first alert</th></tr>");
        foreach (var layer in log.Layers)
        {
            var series = log.ForLayer(layer).Where(m => m.Stats.Count > 0).ToArray();
            if (series.Length == 0)
                continue;
            var lowest = series.MinBy(m => m.Stats.SignDiversity)!;
            var largest = series.MaxBy(m => m.Stats.AbsMean)!;
            var first = log.Alerts.FirstOrDefault(a => a.Layer == layer);
            html.Append("<tr><td>").Append(E(layer)).Append("</td><td class=\"n\">").Append(series.Length).Append("</td><td class=\"n\">").Append(series[0].Step)
                .Append("</td><td class=\"n\">").Append(series[^1].Step).Append("</td><td class=\"n\">").Append(F(lowest.Stats.SignDiversity))
                .Append("</td><td class=\"n\">").Append(lowest.Step).Append("</td><td class=\"n\">").Append(F(largest.Stats.AbsMean))
                .Append("</td><td class=\"n\">").Append(largest.Step).Append("</td><td>")
                .Append(first is null ? "—" : $"{E(first.Reason)} at {first.Step}").AppendLine("</td></tr>");
        }

        html.AppendLine("</table>");
        html.Append("<h2>Sign diversity of every layer</h2><img src=\"").Append(E(overviewImage)).AppendLine("\" alt=\"sign diversity of every layer over steps\">");
        foreach (var (layer, image) in layerImages)
        {
            html.Append("<h2>").Append(E(layer)).Append("</h2><img src=\"").Append(E(image)).Append("\" alt=\"SA distribution of ").Append(E(layer)).AppendLine(" over steps\">");
        }

        html.AppendLine("<p>Bands: 5–95 % and 25–75 % of the SA values of each measurement; lines: median and mean. Red: alerts. Dashed: markers.</p>");
        html.AppendLine("</body></html>");
        return html.ToString();
    }

    private static string E(string text) => WebUtility.HtmlEncode(text);

    private static string F(double value) => value.ToString("0.000", CultureInfo.InvariantCulture);
}
