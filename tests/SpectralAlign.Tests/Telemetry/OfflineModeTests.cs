using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Testing;
using SpectralAlign.Detection;
using SpectralAlign.Telemetry;
using SpectralAlign.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Telemetry;

[Collection(TorchCollection.Name)]
public sealed class OfflineModeTests
{
    /// <summary>Trains the seeded MLP with fc1 → fc2 → fc3 linked (as auto-linking links a Sequential's Linears), a
    /// planted drift from step 60 on, and a capture; returns what the monitor published online: the reference the
    /// offline analysis must reproduce.</summary>
    private static (List<LayerMeasurement> Online, List<CollapseAlert> Alerts) TrainWithCapture(string directory, SpectralMonitorOptions options, int steps, int stride = 1, Action<int>? beforeStep = null)
    {
        using var model = Training.Mlp(seed: 5);
        using var task = new TeacherTask(32, 10, seed: 6);
        using var harness = new MonitorHarness(options);
        harness.Monitor.WatchAll(model);
        using var fc1ToFc2 = harness.Monitor.Link("fc1", "fc2");
        using var fc2ToFc3 = harness.Monitor.Link("fc2", "fc3");
        using var capture = new OfflineCaptureSink(new OfflineCaptureOptions { Directory = directory, MeasurementStride = stride }, harness.Monitor.Options);
        using (harness.Monitor.AddCaptureSink(capture))
            harness.Train(model, task, steps, lr: 3e-3, beforeStep: step => { beforeStep?.Invoke(step); model.drift.Alpha = step >= 60 ? 0.6 : 0; });
        return ([.. harness.Measurements], [.. harness.Alerts]);
    }

    private static readonly SpectralMonitorOptions Options = new()
    {
        Interval = 5,
        MaxSamplesPerLayer = 48,
        Detection = { WarmupSteps = 20, Rules = [new AbsoluteSignCollapseRule()] },
    };

    private static (string Layer, long Step, string Reason, long EpisodeStartStep, string Detail) Key(CollapseAlert a) => (a.Layer, a.Step, a.Reason, a.EpisodeStartStep, a.Detail);

    [Fact]
    public void Analyze_ACapturedTrainingRun_ReproducesTheOnlineStatistics()
    {
        using var dir = new TempDirectory();
        var (online, onlineAlerts) = TrainWithCapture(dir.Path, Options, steps: 100);

        var offline = OfflineAnalyzer.Analyze(dir.Path, Options.Clone());

        Assert.Equal(online.Count, offline.Measurements.Count);
        Assert.Equal(60, online.Count); // 20 measured steps × 3 layers
        // Every field, bit for bit: the analyser runs the monitor's engine (CPU, as here) on the very tensors the
        // monitor measured, from the same cold start at the first saved step, with the same links. That includes the
        // warm-start bookkeeping (Iterations, Residual), UpdateRatio (the sketch of the previous saved step's weight:
        // the previous measured step's, as the stride is 1), CenteredStats and UpstreamAlignment.
        for (int i = 0; i < online.Count; i++)
            Measurements.AssertIdentical(online[i], offline.Measurements[i]);
        // …and the comparison covers the fields that need the links and the state to be right.
        Assert.All(online.Where(m => m.Layer != "fc1"), m => Assert.InRange(m.UpstreamAlignment, 0, 1));
        Assert.All(online.Where(m => m.Step > 0), m => Assert.True(m.UpdateRatio > 0, $"{m}: UpdateRatio {m.UpdateRatio}"));
        Assert.All(online, m => Assert.True(m.CenteredStats.Count > 0, $"{m}: no centred statistics"));

        // The planted drift raised alerts online; the offline detection raises the same ones.
        Assert.NotEmpty(onlineAlerts);
        Assert.Equal(onlineAlerts.Select(Key), offline.Alerts.Select(Key));
        Assert.Equal(5, offline.Options.Interval);
        Assert.False(offline.TruncatedTail);
    }

    [Fact]
    public void Analyze_CrossLayerAndLinkedRules_AlertExactlyAsOnline()
    {
        // fc1 and fc2 as an attention block's query and key (suffixes "c1" and "c2": block "f"): the bound rule judges
        // the pair at each step, a cross-layer rule; the Jacobian rule judges the links' upstream alignments. Online,
        // the bound (σ1·σ1·max‖x‖·max‖x‖) rises from 57 at step 0 to 394 when the drift starts at step 60, and fc3's
        // alignment with fc2 peaks at 0.84 around step 50: each rule alerts.
        var options = new SpectralMonitorOptions
        {
            Interval = 5,
            MaxSamplesPerLayer = 48,
            Detection =
            {
                WarmupSteps = 20,
                ConsecutiveMeasurements = 1,
                Rules =
                [
                    new AttentionLogitBoundRule { QuerySuffix = "c1", KeySuffix = "c2", HeadDimension = 1, Threshold = 300 },
                    new JacobianAlignmentRule { Level = 0.82, MinRise = double.PositiveInfinity },
                ],
            },
        };
        using var dir = new TempDirectory();
        var (online, onlineAlerts) = TrainWithCapture(dir.Path, options, steps: 100);

        var offline = OfflineAnalyzer.Analyze(dir.Path);   // the capturing monitor's settings from capture.json…
        var replayed = OfflineAnalyzer.Analyze(dir.Path, options.Clone());   // …and its rules

        Assert.Contains(onlineAlerts, a => (a.Layer, a.Reason) == ("f", AlertReasons.AttentionLogitBound));
        Assert.Contains(onlineAlerts, a => a.Reason == AlertReasons.JacobianAlignment);
        Assert.Equal(onlineAlerts.Select(Key), replayed.Alerts.Select(Key));
        Assert.Equal(online.Count, offline.Measurements.Count);
        for (int i = 0; i < online.Count; i++)
            Measurements.AssertIdentical(online[i], offline.Measurements[i]);
    }

    [Fact]
    public void Analyze_CaptureWithoutLinks_ReadsItWithNaNUpstreamAlignment()
    {
        using var dir = new TempDirectory();
        var (online, _) = TrainWithCapture(dir.Path, Options, steps: 30);
        var manifest = Path.Combine(dir.Path, "manifest.jsonl");
        var lines = File.ReadAllLines(manifest).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        // The documented format: each record names the layer linked to it, if any.
        Assert.Equal(lines.Select(l => (string?)l["layer"] switch { "fc2" => "fc1", "fc3" => "fc2", _ => null }), lines.Select(l => (string?)l["upstream"]));

        // A capture written before links were recorded: no "upstream".
        File.WriteAllLines(manifest, lines.Select(l => { l.Remove("upstream"); return l.ToJsonString(); }));
        var offline = OfflineAnalyzer.Analyze(dir.Path, Options.Clone());

        Assert.Equal(online.Count, offline.Measurements.Count);
        Assert.All(offline.Measurements, m => Assert.True(double.IsNaN(m.UpstreamAlignment), m.ToString()));
        Assert.Equal(online.Select(m => (m.Layer, m.Step, m.SpectralNorm, m.Stats.Mean)), offline.Measurements.Select(m => (m.Layer, m.Step, m.SpectralNorm, m.Stats.Mean)));
    }

    [Fact]
    public void Analyze_LoggerThrows_CompletesWithTheSameResults()
    {
        using var dir = new TempDirectory();
        TrainWithCapture(dir.Path, Options, steps: 100);
        var expected = OfflineAnalyzer.Analyze(dir.Path, Options.Clone());
        var logger = new ThrowingLogger();

        var actual = OfflineAnalyzer.Analyze(dir.Path, Options.Clone(), logger: logger);

        Assert.True(logger.Calls > 0, "the logger was never called");   // it was asked, and it threw
        Assert.NotEmpty(expected.Alerts);   // alerts are logged too
        Assert.Equal(expected.Measurements.Count, actual.Measurements.Count);
        for (int i = 0; i < expected.Measurements.Count; i++)
            Measurements.AssertIdentical(expected.Measurements[i], actual.Measurements[i]);
        Assert.Equal(expected.Alerts.Select(Key), actual.Alerts.Select(Key));
    }

    [Fact]
    public void Analyze_SinkThrows_LogsItAndTheNextSinkGetsEveryStep()
    {
        using var dir = new TempDirectory();
        TrainWithCapture(dir.Path, Options, steps: 30);
        var expected = OfflineAnalyzer.Analyze(dir.Path);
        var received = new List<StepReport>();
        var logger = new FakeLogger();

        var actual = OfflineAnalyzer.Analyze(dir.Path, sinks: [new Sink(_ => throw new IOException("disk full")), new Sink(received.Add)], logger: logger);

        Assert.Equal([0L, 5, 10, 15, 20, 25], actual.Steps);
        Assert.Equal(actual.Steps, received.Select(r => r.Step));
        var failures = logger.Collector.GetSnapshot().Where(r => r.Id.Name == "SinkFailed").ToList();
        Assert.Equal(actual.Steps.Count, failures.Count);
        Assert.All(failures, f => Assert.IsType<IOException>(f.Exception));
        Assert.Equal(expected.Measurements.Count, actual.Measurements.Count);
        for (int i = 0; i < expected.Measurements.Count; i++)
            Measurements.AssertIdentical(expected.Measurements[i], actual.Measurements[i]);
    }

    /// <summary>A user's sink.</summary>
    private sealed class Sink(Action<StepReport> onStep) : ISpectralSink
    {
        public void OnStep(StepReport report) => onStep(report);
    }

    [Fact]
    public void Analyze_SavedFiles_MatchAnIndependentSvdComputation()
    {
        using var dir = new TempDirectory();
        TrainWithCapture(dir.Path, Options, steps: 30);
        var offline = OfflineAnalyzer.Analyze(dir.Path);

        // The documented format: manifest lines point at TorchSharp tensor files of the stated shapes.
        var lines = File.ReadAllLines(Path.Combine(dir.Path, "manifest.jsonl"));
        Assert.Equal(offline.Measurements.Count, lines.Length);
        foreach (var (line, measured) in lines.Zip(offline.Measurements))
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            Assert.Equal((measured.Layer, measured.Step), (root.GetProperty("layer").GetString(), root.GetProperty("step").GetInt64()));
            using var rows = load(Path.Combine(dir.Path, root.GetProperty("rows").GetString()!));
            using var weight = load(Path.Combine(dir.Path, root.GetProperty("weight").GetString()!));
            Assert.Equal(root.GetProperty("rowsShape").EnumerateArray().Select(e => e.GetInt64()), rows.shape);
            Assert.Equal(root.GetProperty("weightShape").EnumerateArray().Select(e => e.GetInt64()), weight.shape);

            // One group per Linear: the (G, m, n) weight holds a single matrix.
            Assert.Equal(1, weight.shape[0]);
            using var matrix = weight[0];
            var (v1, _) = Reference.Svd(matrix);
            var expected = Reference.Stats(Reference.Alignments(Reference.Rows(rows), v1), 20);
            // v1's sign is a convention: compare the sign-invariant statistics.
            // Where σ1 is nearly tied with σ2 (random init: σ2/σ1 ≈ 0.99) v1 itself is ill-determined and a warm
            // measurement may end just short of the residual tolerance: a looser bound there.
            bool sharp = measured.GapRatio < 0.95 && !measured.Conditions.HasFlag(MeasurementConditions.NotConverged);
            double tolerance = sharp ? 1e-3 : 2e-2;
            Assert.True(Math.Abs(Math.Abs(expected.Mean) - measured.Stats.AbsMean) <= tolerance, $"{measured} residual {measured.Residual}: expected |mean| {Math.Abs(expected.Mean)}");
            Assert.Equal(expected.StdDev, measured.Stats.StdDev, tolerance);
            if (sharp)
                Assert.Equal(expected.SignDiversity, measured.Stats.SignDiversity, 1e-3);
        }
    }

    [Fact]
    public void Analyze_StrideAndTruncatedManifest_UsesEveryCompleteRecord()
    {
        using var dir = new TempDirectory();
        TrainWithCapture(dir.Path, Options, steps: 60, stride: 2);
        var manifest = Path.Combine(dir.Path, "manifest.jsonl");
        var bytes = File.ReadAllBytes(manifest);
        File.WriteAllBytes(manifest, bytes.AsSpan(0, bytes.Length - 25).ToArray()); // killed mid-record

        var offline = OfflineAnalyzer.Analyze(dir.Path);

        Assert.True(offline.TruncatedTail);
        Assert.Equal([0L, 10, 20, 30, 40, 50], offline.Steps);
        Assert.Equal(10, offline.Options.Interval);
        Assert.Equal(6 * 3 - 1, offline.Measurements.Count);
        Assert.DoesNotContain(offline.Measurements, m => m.Stats.Count == 0);
    }

    [Fact]
    public void Analyze_WithARunLogSink_WritesTheAnalysisAsARunLog()
    {
        using var dir = new TempDirectory();
        TrainWithCapture(dir.File("capture"), Options, steps: 20);
        using (var writer = new RunLogWriter(new RunLogOptions { Path = dir.File("offline.jsonl") }))
            OfflineAnalyzer.Analyze(dir.File("capture"), sinks: [writer]);

        var log = RunLogReader.Read(dir.File("offline.jsonl"));
        Assert.Equal(4 * 3, log.Measurements.Count);
        Assert.Equal(["fc1", "fc2", "fc3"], log.Layers);
    }

    [Fact]
    public void Constructor_NonEmptyDirectory_ThrowsAndDeletesNothing()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(Path.Combine(dir.Path, "steps"));
        File.WriteAllText(Path.Combine(dir.Path, "steps", "precious.pt"), "x");

        var ex = Assert.Throws<IOException>(() => new OfflineCaptureSink(new OfflineCaptureOptions { Directory = dir.Path }));

        Assert.Contains("not empty", ex.Message, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(dir.Path, "steps", "precious.pt")));
    }

    [Fact]
    public void Constructor_Header_TakesItsTimeFromTheTimeProvider()
    {
        using var dir = new TempDirectory();
        var now = new DateTimeOffset(2031, 2, 3, 4, 5, 6, TimeSpan.Zero);
        using (new OfflineCaptureSink(new OfflineCaptureOptions { Directory = Path.Combine(dir.Path, "capture"), TimeProvider = new FixedTimeProvider(now) }))
        {
        }

        using var header = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir.Path, "capture", "capture.json")));
        Assert.Equal(now, header.RootElement.GetProperty("created").GetDateTimeOffset());
    }

    [Fact]
    public void Constructor_InvalidOptions_ListsEveryProblem()
    {
        var ex = Assert.Throws<ArgumentException>(() => new OfflineCaptureSink(new OfflineCaptureOptions { Directory = "", MeasurementStride = 0 }));
        Assert.Contains("2 problems", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Analyze_NotACapture_ThrowsSayingWhy()
    {
        using var dir = new TempDirectory();
        var ex = Assert.Throws<InvalidDataException>(() => OfflineAnalyzer.Analyze(dir.Path));
        Assert.Contains("manifest.jsonl", ex.Message, StringComparison.Ordinal);
        Assert.Throws<DirectoryNotFoundException>(() => OfflineAnalyzer.Analyze(dir.File("missing")));
    }

    [Theory]
    [InlineData("null")]
    [InlineData("[4]")]
    public void Analyze_ManifestRecordWithoutAWeightShape_ThrowsNamingTheLine(string shape)
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("manifest.jsonl"), "{\"step\":0,\"layer\":\"l\",\"weight\":\"w.pt\",\"weightShape\":" + shape + ",\"weightDType\":\"Float32\"}\n");

        var ex = Assert.Throws<InvalidDataException>(() => OfflineAnalyzer.Analyze(dir.Path));

        Assert.Contains("line 1", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Analyze_ManifestRecordLinkedToItself_ThrowsNamingTheLine()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("manifest.jsonl"), "{\"step\":0,\"layer\":\"l\",\"weight\":\"w.pt\",\"weightShape\":[2,2],\"weightDType\":\"Float32\",\"upstream\":\"l\"}\n");

        var ex = Assert.Throws<InvalidDataException>(() => OfflineAnalyzer.Analyze(dir.Path));

        Assert.Contains("line 1 links layer 'l' to itself", ex.Message, StringComparison.Ordinal);
    }
}
