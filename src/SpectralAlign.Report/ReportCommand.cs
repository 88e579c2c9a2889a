using System.Globalization;
using System.Text;
using SpectralAlign.Telemetry;

namespace SpectralAlign.Report;

/// <summary>
/// <c>spectralalign-report RUN.jsonl [--out DIR] [--width PX] [--height PX] [--columns N]</c> renders a run log;
/// <c>spectralalign-report analyze CAPTURE_DIR --out RUN.jsonl</c> analyses an offline capture into a run log.
/// </summary>
internal static class ReportCommand
{
    public const string Usage = """
        Usage:
          spectralalign-report RUN.jsonl [--out DIR] [--width PX] [--height PX] [--columns N]
              Renders a run log: DIR/index.html, DIR/sign-diversity.png and DIR/layer-<name>.png per layer.
              Defaults: --out <run log name>-report next to the run log, --width 1200, --height 700, --columns 3.
          spectralalign-report analyze CAPTURE_DIR --out RUN.jsonl
              Replays an offline capture (OfflineCaptureSink) and writes what the monitor measures as a run log.
        """;

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        try
        {
            if (args.Length == 0 || args[0] is "-h" or "--help")
            {
                stdout.WriteLine(Usage);
                return args.Length == 0 ? 2 : 0;
            }

            if (args[0] == "analyze")
                return Analyze(args[1..], stdout, stderr);
            return Render(args, stdout, stderr);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException or ArgumentException)
        {
            stderr.WriteLine($"error: {ex.Message}");
            return 1;
        }
    }

    /// <summary>The files a report consists of.</summary>
    public sealed record ReportFiles(string Html, string Overview, IReadOnlyList<(string Layer, string Png)> Layers);

    /// <summary>Renders the report of <paramref name="log"/> into <paramref name="outDir"/>.</summary>
    public static ReportFiles Write(RunLog log, string source, string outDir, int width = 1200, int height = 700, int columns = 3)
    {
        Directory.CreateDirectory(outDir);
        var overview = Path.Combine(outDir, "sign-diversity.png");
        RunLogPlots.RenderOverview(log, overview, columns, cellWidth: width / 3, cellHeight: 260);
        var layers = new List<(string Layer, string Png)>();
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var layer in log.Layers)
        {
            var name = "layer-" + SafeName(layer);
            for (int i = 2; !used.Add(name); i++)
                name = "layer-" + SafeName(layer) + "-" + i.ToString(CultureInfo.InvariantCulture);
            var png = Path.Combine(outDir, name + ".png");
            RunLogPlots.RenderLayer(log, layer, png, width, height);
            layers.Add((layer, png));
        }

        var html = Path.Combine(outDir, "index.html");
        File.WriteAllText(html, HtmlReport.Render(log, source, Path.GetFileName(overview), layers.Select(l => (l.Layer, Path.GetFileName(l.Png))).ToArray()), Encoding.UTF8);
        return new ReportFiles(html, overview, layers);
    }

    private static int Render(string[] args, TextWriter stdout, TextWriter stderr)
    {
        string? input = null, outDir = null;
        int width = 1200, height = 700, columns = 3;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--out": outDir = Value(args, ref i); break;
                case "--width": width = Number(args, ref i, 400); break;
                case "--height": height = Number(args, ref i, 300); break;
                case "--columns": columns = Number(args, ref i, 1); break;
                default:
                    if (args[i].StartsWith('-') || input is not null)
                        return Fail(stderr, $"unexpected argument '{args[i]}'");
                    input = args[i];
                    break;
            }
        }

        if (input is null)
            return Fail(stderr, "no run log given");
        var log = RunLogReader.Read(input);
        if (log.Measurements.Count == 0)
            return Fail(stderr, $"'{input}' holds no measurements");
        outDir ??= Path.Combine(Path.GetDirectoryName(Path.GetFullPath(input))!, Path.GetFileNameWithoutExtension(input) + "-report");
        var files = Write(log, input, outDir, width, height, columns);
        stdout.WriteLine($"{log.Measurements.Count} measurements of {log.Layers.Count} layers, {log.Alerts.Count} alerts{(log.TruncatedTail ? " (incomplete last line skipped)" : "")}");
        stdout.WriteLine($"wrote {files.Html}");
        stdout.WriteLine($"wrote {files.Overview}");
        foreach (var (_, png) in files.Layers)
            stdout.WriteLine($"wrote {png}");
        return 0;
    }

    private static int Analyze(string[] args, TextWriter stdout, TextWriter stderr)
    {
        string? capture = null, output = null;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--out")
                output = Value(args, ref i);
            else if (!args[i].StartsWith('-') && capture is null)
                capture = args[i];
            else
                return Fail(stderr, $"unexpected argument '{args[i]}'");
        }

        if (capture is null || output is null)
            return Fail(stderr, "analyze needs a capture directory and --out RUN.jsonl");
        OfflineAnalysis analysis;
        using (var writer = new RunLogWriter(new RunLogOptions { Path = output, Tags = { ["source"] = "offline capture " + Path.GetFullPath(capture) } }))
            analysis = OfflineAnalyzer.Analyze(capture, sinks: [writer]);
        stdout.WriteLine($"{analysis.Measurements.Count} measurements over {analysis.Steps.Count} steps, {analysis.Alerts.Count} alerts{(analysis.TruncatedTail ? " (incomplete last manifest line skipped)" : "")}");
        stdout.WriteLine($"wrote {Path.GetFullPath(output)}");
        return 0;
    }

    private static string Value(string[] args, ref int i) =>
        ++i < args.Length ? args[i] : throw new ArgumentException($"{args[i - 1]} needs a value");

    private static int Number(string[] args, ref int i, int minimum)
    {
        var text = Value(args, ref i);
        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= minimum
            ? n
            : throw new ArgumentException($"{args[i - 1]} needs a whole number >= {minimum} (was '{text}')");
    }

    private static int Fail(TextWriter stderr, string message)
    {
        stderr.WriteLine($"error: {message}");
        stderr.WriteLine(Usage);
        return 2;
    }

    private static string SafeName(string layer)
    {
        var safe = new StringBuilder(layer.Length);
        foreach (char c in layer)
            safe.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '_');
        return safe.ToString();
    }
}
