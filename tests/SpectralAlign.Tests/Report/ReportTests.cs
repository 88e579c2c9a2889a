using SkiaSharp;
using SpectralAlign.Report;
using SpectralAlign.Telemetry;
using SpectralAlign.Tests.Support;

namespace SpectralAlign.Tests.Report;

public sealed class ReportTests
{
    private static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>A run log like the demo's: 60 measured steps, layer "b" collapsing, an alert and a loss explosion.</summary>
    private static RunLog WriteLog(string path, bool withAlert)
    {
        using (var writer = new RunLogWriter(new RunLogOptions { Path = path, Tags = { ["run"] = "test" } }))
        {
            foreach (var report in Reports.Run(16, alertStep: withAlert ? 120 : -1))
            {
                writer.OnStep(report);
                writer.WriteScalar(report.Step, "loss", 2.0 / (1 + report.Step / 50.0));
            }

            writer.WriteMarker(150, "loss_explosion", "test");
        }

        return RunLogReader.Read(path);
    }

    private static SKBitmap DecodePng(string path, int width, int height)
    {
        var bytes = File.ReadAllBytes(path);
        Assert.Equal(PngSignature, bytes.Take(8));
        var bitmap = SKBitmap.Decode(bytes);
        Assert.NotNull(bitmap);
        Assert.Equal((width, height), (bitmap.Width, bitmap.Height));
        return bitmap;
    }

    /// <summary>Pixels within a small distance of <paramref name="color"/>.</summary>
    private static int Count(SKBitmap bitmap, SKColor color, int tolerance = 24)
    {
        int n = 0;
        for (int y = 0; y < bitmap.Height; y++)
        {
            for (int x = 0; x < bitmap.Width; x++)
            {
                var p = bitmap.GetPixel(x, y);
                if (Math.Abs(p.Red - color.Red) + Math.Abs(p.Green - color.Green) + Math.Abs(p.Blue - color.Blue) <= tolerance)
                    n++;
            }
        }

        return n;
    }

    [Fact]
    public void Write_RunLog_ProducesValidNonBlankPngsOfTheRequestedSizeAndAnHtmlPage()
    {
        using var dir = new TempDirectory();
        var log = WriteLog(dir.File("run.jsonl"), withAlert: true);

        var files = ReportCommand.Write(log, "run.jsonl", dir.File("report"), width: 900, height: 600, columns: 2);

        Assert.Equal(["a", "blocks.0/b"], files.Layers.Select(l => l.Layer));
        foreach (var (layer, png) in files.Layers)
        {
            using var bitmap = DecodePng(png, 900, 600);
            int total = bitmap.Width * bitmap.Height;
            int white = Count(bitmap, SKColors.White, 6);
            Assert.True(white < 0.95 * total, $"{layer}: {white} of {total} pixels are white");
            Assert.True(Count(bitmap, SKColor.Parse("#DD8452")) > 300, $"{layer}: no mean line");
            Assert.True(Count(bitmap, SKColor.Parse("#2A9D55")) > 300, $"{layer}: no sign-diversity line");
            int red = Count(bitmap, SKColor.Parse("#D62728"), 30);
            if (layer == "a")
                Assert.True(red < 50, $"layer a has no alert but {red} alert-red pixels");
            else
                Assert.True(red > 300, $"layer b's alert is not marked ({red} red pixels)");
        }

        using (var overview = DecodePng(files.Overview, 2 * 300, 260))
            Assert.True(Count(overview, SKColor.Parse("#2A9D55")) > 300, "no sign-diversity lines in the overview");

        var html = File.ReadAllText(files.Html);
        Assert.Contains("<img src=\"sign-diversity.png\"", html, StringComparison.Ordinal);
        Assert.Contains("<img src=\"layer-blocks.0_b.png\"", html, StringComparison.Ordinal);
        Assert.Contains("<td>blocks.0/b</td><td>SignCollapse</td>", html, StringComparison.Ordinal);
        Assert.Contains("loss_explosion", html, StringComparison.Ordinal);
        Assert.Contains("<b>run</b> = test", html, StringComparison.Ordinal);
    }

    [Fact]
    public void Write_RunLevelAlert_IsListedInTheHtmlPage()
    {
        using var dir = new TempDirectory();
        using (var writer = new RunLogWriter(new RunLogOptions { Path = dir.File("run.jsonl") }))
        {
            foreach (var report in Reports.Run(4))
                writer.OnStep(report);
            writer.OnStep(new StepReport { Step = 25, Alerts = [new CollapseAlert { Layer = CollapseAlert.RunLayer, Step = 25, Reason = AlertReasons.GradientNormSpike, Detail = "grad norm 12 > 5", EpisodeStartStep = 24 }] });
        }

        var html = HtmlReport.Render(RunLogReader.Read(dir.File("run.jsonl")), "run.jsonl", "overview.png", []);

        Assert.Contains("1 alert.", html, StringComparison.Ordinal);
        Assert.Contains($"<td class=\"n\">25</td><td>{CollapseAlert.RunLayer}</td><td>{AlertReasons.GradientNormSpike}</td>", html, StringComparison.Ordinal);
        Assert.Contains("grad norm 12 &gt; 5", html, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_CommandLine_WritesTheReportAndRejectsBadArguments()
    {
        using var dir = new TempDirectory();
        WriteLog(dir.File("run.jsonl"), withAlert: false);
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        Assert.Equal(0, ReportCommand.Run([dir.File("run.jsonl"), "--width", "800", "--height", "500"], stdout, stderr));
        Assert.True(File.Exists(dir.File("run-report/index.html")));
        using (DecodePng(dir.File("run-report/layer-a.png"), 800, 500)) { }
        Assert.Contains("0 alerts", stdout.ToString(), StringComparison.Ordinal);

        Assert.Equal(2, ReportCommand.Run([dir.File("run.jsonl"), "--bogus"], stdout, stderr));
        Assert.Equal(1, ReportCommand.Run([dir.File("missing.jsonl")], stdout, stderr));
        Assert.Equal(1, ReportCommand.Run([dir.File("run.jsonl"), "--width", "x"], stdout, stderr));
        Assert.Contains("--width needs a whole number", stderr.ToString(), StringComparison.Ordinal);
    }
}
