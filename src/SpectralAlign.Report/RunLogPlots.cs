using ScottPlot;
using SpectralAlign.Telemetry;

namespace SpectralAlign.Report;

/// <summary>Renders a run log to PNG with ScottPlot: the SA distribution of one layer over steps (in the manner of
/// Fig. 4 of Qiu et al. 2025), and a small-multiples overview of every layer's sign diversity.</summary>
internal static class RunLogPlots
{
    private static readonly Color BandOuter = Color.FromHex("#4C72B0").WithAlpha(0.22);
    private static readonly Color BandInner = Color.FromHex("#4C72B0").WithAlpha(0.45);
    private static readonly Color MedianColor = Color.FromHex("#1F3B73");
    private static readonly Color MeanColor = Color.FromHex("#DD8452");
    private static readonly Color DiversityColor = Color.FromHex("#2A9D55");
    private static readonly Color LossColor = Color.FromHex("#7F7F7F");
    private static readonly Color AlertColor = Color.FromHex("#D62728");
    private static readonly Color MarkerColor = Color.FromHex("#222222");
    private static readonly PixelPadding Padding = new(left: 70, right: 70, bottom: 45, top: 35);

    /// <summary>One layer: the SA quantile bands (5–95 %, 25–75 %), median and mean over steps on top; the sign
    /// diversity (and the loss, if the log has a <c>loss</c> scalar) below; alerts and markers as vertical lines.</summary>
    public static void RenderLayer(RunLog log, string layer, string path, int width, int height)
    {
        var series = log.ForLayer(layer).Where(m => m.Stats.Count > 0).ToArray();
        var xs = series.Select(m => (double)m.Step).ToArray();
        var (xMin, xMax) = StepRange(log);

        var top = new Plot();
        top.Layout.Fixed(Padding);
        if (series.Length > 0)
        {
            Band(top, xs, series.Select(m => m.Stats.P05).ToArray(), series.Select(m => m.Stats.P95).ToArray(), BandOuter, "5–95 %");
            Band(top, xs, series.Select(m => m.Stats.P25).ToArray(), series.Select(m => m.Stats.P75).ToArray(), BandInner, "25–75 %");
            Line(top, xs, series.Select(m => m.Stats.Median).ToArray(), MedianColor, 1, "median");
            Line(top, xs, series.Select(m => m.Stats.Mean).ToArray(), MeanColor, 2.5f, "mean");
        }

        var zero = top.Add.HorizontalLine(0);
        zero.Color = Colors.Gray.WithAlpha(0.6);
        zero.LineWidth = 1;
        Events(top, log, layer, labels: true);
        top.Title($"{layer}: spectral alignment cos(h, v1) over steps");
        top.YLabel("SA");
        top.Axes.SetLimits(xMin, xMax, -1.05, 1.05);
        top.ShowLegend(Alignment.LowerLeft);

        var bottom = new Plot();
        bottom.Layout.Fixed(Padding);
        if (series.Length > 0)
            Line(bottom, xs, series.Select(m => m.Stats.SignDiversity).ToArray(), DiversityColor, 2, "sign diversity D");
        bottom.YLabel("sign diversity D");
        bottom.XLabel("step");
        bottom.Axes.SetLimits(xMin, xMax, -0.02, 1.05);
        var loss = log.Scalars.Where(s => s.Name == "loss" && double.IsFinite(s.Value) && s.Value > 0).OrderBy(s => s.Step).ToArray();
        if (loss.Length > 1)
        {
            var lossLine = bottom.Add.ScatterLine(loss.Select(s => (double)s.Step).ToArray(), loss.Select(s => Math.Log10(s.Value)).ToArray());
            lossLine.Color = LossColor;
            lossLine.LineWidth = 1;
            lossLine.LegendText = "log10 loss (right)";
            lossLine.Axes.YAxis = bottom.Axes.Right;
            bottom.Axes.Right.Label.Text = "log10 loss";
        }

        Events(bottom, log, layer, labels: false);
        bottom.ShowLegend(Alignment.LowerLeft);

        var figure = new Multiplot();
        figure.AddPlot(top);
        figure.AddPlot(bottom);
        figure.RemovePlot(figure.Subplots.GetPlot(0));
        figure.Layout = new ScottPlot.MultiplotLayouts.Grid(2, 1);
        figure.SavePng(path, width, height);
    }

    /// <summary>Every layer's sign diversity over steps, one small plot per layer, alerts and markers marked.</summary>
    public static void RenderOverview(RunLog log, string path, int columns, int cellWidth, int cellHeight)
    {
        var layers = log.Layers;
        int cols = Math.Max(1, Math.Min(columns, layers.Count));
        int rows = Math.Max(1, (layers.Count + cols - 1) / cols);
        var (xMin, xMax) = StepRange(log);
        var figure = new Multiplot();
        foreach (var layer in layers)
        {
            var series = log.ForLayer(layer).Where(m => m.Stats.Count > 0).ToArray();
            var plot = new Plot();
            plot.Layout.Fixed(new PixelPadding(50, 15, 35, 36));
            if (series.Length > 0)
                Line(plot, series.Select(m => (double)m.Step).ToArray(), series.Select(m => m.Stats.SignDiversity).ToArray(), DiversityColor, 1.5f, null);
            Events(plot, log, layer, labels: false);
            plot.Title(layer, size: 13);
            plot.Axes.SetLimits(xMin, xMax, -0.02, 1.05);
            figure.AddPlot(plot);
        }

        figure.RemovePlot(figure.Subplots.GetPlot(0));
        figure.Layout = new ScottPlot.MultiplotLayouts.Grid(rows, cols);
        figure.SavePng(path, cols * cellWidth, rows * cellHeight);
    }

    private static (double Min, double Max) StepRange(RunLog log)
    {
        var steps = log.Measurements.Select(m => m.Step).Concat(log.Markers.Select(m => m.Step)).DefaultIfEmpty(0).ToArray();
        double min = steps.Min(), max = steps.Max();
        double pad = Math.Max(1, (max - min) * 0.02);
        return (min - pad, max + pad);
    }

    private static void Band(Plot plot, double[] xs, double[] lower, double[] upper, Color color, string label)
    {
        var band = plot.Add.FillY(xs, lower, upper);
        band.FillColor = color;
        band.LineWidth = 0;
        band.LegendText = label;
    }

    private static void Line(Plot plot, double[] xs, double[] ys, Color color, float width, string? label)
    {
        var line = plot.Add.ScatterLine(xs, ys);
        line.Color = color;
        line.LineWidth = width;
        if (label is not null)
            line.LegendText = label;
    }

    /// <summary>Alerts of the layer and run-level alerts (red, solid) and the run's markers (black, dashed).</summary>
    private static void Events(Plot plot, RunLog log, string layer, bool labels)
    {
        foreach (var alert in log.Alerts.Where(a => a.Layer == layer || a.Layer == CollapseAlert.RunLayer))
        {
            var line = plot.Add.VerticalLine(alert.Step);
            line.Color = AlertColor;
            line.LineWidth = 2;
            if (labels)
            {
                line.Text = alert.Layer == CollapseAlert.RunLayer ? $"run alert {alert.Step}" : $"alert {alert.Step}";
                line.LabelOppositeAxis = true; // on top, clear of the markers' labels below
            }
        }

        foreach (var marker in log.Markers)
        {
            var line = plot.Add.VerticalLine(marker.Step);
            line.Color = MarkerColor;
            line.LineWidth = 1.5f;
            line.LinePattern = LinePattern.Dashed;
            if (labels)
                line.Text = $"{marker.Name} {marker.Step}";
        }
    }
}
