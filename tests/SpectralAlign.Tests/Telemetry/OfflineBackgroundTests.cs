using System.Text.Json.Nodes;
using SpectralAlign.Telemetry;
using SpectralAlign.Tests.Support;
using static TorchSharp.torch;
using static SpectralAlign.Tests.Support.LiveTensors;

namespace SpectralAlign.Tests.Telemetry;

/// <summary>
/// Offline capture with <see cref="SpectralMonitorOptions.MeasureInBackground"/>: the capture is the one the foreground
/// writes (the reference: the same seeded run measured on the training thread), its weights are those of the measured
/// step although the capture is written a step later, after the optimizer has moved the live parameters on, the
/// offline analysis reproduces the background monitor's own measurements, and disposing the monitor with a measurement
/// in flight leaves a readable capture and no tensor behind. The runs train with the written-out SGD step: the worker
/// allocates while the loop runs, and TorchSharp's Adam makes temporary Scalars that a collection could free mid-call
/// (README, "Threading").
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class OfflineBackgroundTests
{
    private static readonly string[] LayerNames = ["fc1", "fc2", "fc3"];

    /// <summary>What one capturing run left: the measurements its monitor published, each layer's weight after every
    /// <see cref="SpectralMonitor.Step()"/> (the weight the monitor measures on that step; the next optimizer step
    /// changes it), and how many tensors created during the run were left undisposed once the monitor and the sink
    /// were (counted before any collection could finalise them).</summary>
    private sealed record CapturedRun(List<LayerMeasurement> Online, Dictionary<(long Step, string Layer), float[]> WeightAfterStep, long Undisposed);

    /// <summary>Trains the seeded MLP (fc1 → fc2 → fc3 linked) for <paramref name="steps"/> SGD steps with an offline
    /// capture into <paramref name="directory"/>; ends with <see cref="SpectralMonitor.Flush"/> when
    /// <paramref name="flush"/>, else disposes the monitor with the last measured step unpublished (in the background:
    /// in flight, or done and not yet published).</summary>
    private static CapturedRun Capture(string directory, bool background, int steps, int interval = 1, int stride = 1, bool flush = true, DateTimeOffset? created = null)
    {
        using var model = Training.Mlp(seed: 11, hidden: 48);
        using var task = new TeacherTask(32, 10, seed: 12);
        var weights = new Dictionary<(long, string), float[]>();
        long before = Live();
        long undisposed;
        var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = interval, MaxSamplesPerLayer = 32, MeasureInBackground = background });
        var clock = new FixedTimeProvider(created ?? new DateTimeOffset(2031, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var capture = new OfflineCaptureSink(new OfflineCaptureOptions { Directory = directory, MeasurementStride = stride, TimeProvider = clock }, harness.Monitor.Options);
        try
        {
            harness.Monitor.WatchAll(model);
            using var fc1ToFc2 = harness.Monitor.Link("fc1", "fc2");
            using var fc2ToFc3 = harness.Monitor.Link("fc2", "fc3");
            using var registration = harness.Monitor.AddCaptureSink(capture);
            harness.Train(model, task, steps, lr: 3e-2, sgd: true, afterStep: (step, _) =>
            {
                foreach (var (name, layer) in LayerNames.Zip(new[] { model.fc1, model.fc2, model.fc3 }))
                    weights[(step, name)] = layer.weight!.data<float>().ToArray();
            });
            if (flush)
                harness.Monitor.Flush();
        }
        finally
        {
            harness.Dispose();
            capture.Dispose();
            undisposed = Tensor.TotalCount - before;   // before any collection: a tensor dropped undisposed still counts
        }

        return new CapturedRun([.. harness.Measurements], weights, undisposed);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 1)]
    [InlineData(2, 2)]
    public void OnCapture_MeasureInBackground_WritesTheForegroundCaptureWithTheMeasuredStepsWeights(int interval, int stride)
    {
        const int steps = 12;
        using var dir = new TempDirectory();
        var foreground = Capture(dir.File("foreground"), background: false, steps, interval, stride, created: new DateTimeOffset(2031, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var background = Capture(dir.File("background"), background: true, steps, interval, stride, created: new DateTimeOffset(2031, 1, 1, 0, 0, 7, TimeSpan.Zero));

        // The header: the same measurement settings (MeasureInBackground is not one of them). The only field that
        // legitimately differs is "created", the capture's start time (here two clocks 7 s apart).
        var headerF = Header(dir.File("foreground"));
        var headerB = Header(dir.File("background"));
        Assert.NotEqual(headerF["created"]!.ToJsonString(), headerB["created"]!.ToJsonString());
        headerF.Remove("created");
        headerB.Remove("created");
        Assert.Equal(headerF.ToJsonString(), headerB.ToJsonString());

        // The manifest and every tensor file, byte for byte: the same steps and layers, links, row counts, shapes and
        // dtypes, and bit-identical rows and weights.
        var files = Files(dir.File("foreground"));
        Assert.Equal(files, Files(dir.File("background")));
        foreach (var file in files.Where(f => f != "capture.json"))
            Assert.True(File.ReadAllBytes(Path.Combine(dir.File("foreground"), file)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(dir.File("background"), file))), $"{file} differs");

        // Every measured step of every stride-th is there, each with its three layers.
        var saved = Enumerable.Range(0, steps).Where(s => s % interval == 0).Where((_, i) => i % stride == 0).Select(s => (long)s).ToList();
        var manifest = Manifest(dir.File("background"));
        Assert.Equal(saved.SelectMany(s => LayerNames.Select(l => (s, l))), manifest.Select(m => (m.Step, m.Layer)));

        // Independent of the foreground: each saved weight is the parameter as it was when Step() measured it, not as
        // the next optimizer step left it — what the background monitor's live parameter had become by the time it
        // published (and wrote) the step.
        foreach (var (step, layer, _, weightFile) in manifest)
        {
            var savedWeight = Load(dir.File("background"), weightFile);
            Assert.True(Bits(background.WeightAfterStep[(step, layer)]).SequenceEqual(Bits(savedWeight)), $"{layer}@{step}: not the weight of its step");
            if (step + 1 < steps)
                Assert.False(Bits(background.WeightAfterStep[(step + 1, layer)]).SequenceEqual(Bits(savedWeight)), $"{layer}@{step}: the next step left the weight unchanged, so this check could not fail");
        }

        Assert.Equal(0, foreground.Undisposed);
        Assert.Equal(0, background.Undisposed);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void Analyze_BackgroundCapture_EqualsTheBackgroundMonitorsOnlineMeasurements(int interval)
    {
        using var dir = new TempDirectory();
        var run = Capture(dir.Path, background: true, steps: 30, interval);

        var offline = OfflineAnalyzer.Analyze(dir.Path);   // the capturing monitor's settings, from capture.json

        Assert.Equal(3 * (((30 - 1) / interval) + 1), run.Online.Count);
        Assert.Equal(run.Online.Count, offline.Measurements.Count);
        for (int i = 0; i < run.Online.Count; i++)
            Measurements.AssertIdentical(run.Online[i], offline.Measurements[i]);
        // The comparison covers the fields that need the links and the warm state to be right.
        Assert.All(run.Online.Where(m => m.Layer != "fc1"), m => Assert.InRange(m.UpstreamAlignment, 0, 1));
        Assert.All(run.Online.Where(m => m.Step > 0), m => Assert.True(m.UpdateRatio > 0, $"{m}: UpdateRatio {m.UpdateRatio}"));
        Assert.Equal(interval, offline.Options.Interval);
        Assert.False(offline.TruncatedTail);
    }

    [Fact]
    public void Dispose_MeasurementInFlight_LeavesTheEarlierStepsWholeAndReleasesItsRowsAndWeights()
    {
        const int steps = 6;
        using var dir = new TempDirectory();
        var foreground = Capture(dir.File("foreground"), background: false, steps);
        var background = Capture(dir.File("background"), background: true, steps, flush: false);

        // The last step's weight copies, rows and capture records were disposed, not left to the finaliser.
        Assert.True(background.Undisposed == 0, $"{background.Undisposed} tensors left undisposed");

        // It was never published, so it was never written: no record, no file, no directory of it.
        Assert.Equal(5 * 3, background.Online.Count);
        var manifest = Manifest(dir.File("background"));
        Assert.DoesNotContain(manifest, m => m.Step == steps - 1);
        Assert.False(Directory.Exists(Path.Combine(dir.File("background"), "steps", (steps - 1).ToString("D9", System.Globalization.CultureInfo.InvariantCulture))));

        // What is there is whole, complete in every line, and the foreground's capture of those steps.
        var expected = File.ReadAllLines(Path.Combine(dir.File("foreground"), "manifest.jsonl")).Where(l => JsonNode.Parse(l)!["step"]!.GetValue<long>() < steps - 1);
        Assert.Equal(expected, File.ReadAllLines(Path.Combine(dir.File("background"), "manifest.jsonl")));
        Assert.True(File.ReadAllBytes(Path.Combine(dir.File("background"), "manifest.jsonl"))[^1] == (byte)'\n', "the manifest ends mid-line");
        var offline = OfflineAnalyzer.Analyze(dir.File("background"));
        Assert.False(offline.TruncatedTail);
        Assert.Equal([0L, 1, 2, 3, 4], offline.Steps);
        var online = foreground.Online.Where(m => m.Step < steps - 1).ToList();
        Assert.Equal(online.Count, offline.Measurements.Count);
        for (int i = 0; i < online.Count; i++)
            Measurements.AssertIdentical(online[i], offline.Measurements[i]);
    }

    private static JsonObject Header(string directory) => JsonNode.Parse(File.ReadAllText(Path.Combine(directory, "capture.json")))!.AsObject();

    private static List<string> Files(string directory) =>
        [.. Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(directory, f).Replace('\\', '/')).Order(StringComparer.Ordinal)];

    private static List<(long Step, string Layer, string Rows, string Weight)> Manifest(string directory) =>
        [.. File.ReadAllLines(Path.Combine(directory, "manifest.jsonl")).Select(l => JsonNode.Parse(l)!).Select(n => (n["step"]!.GetValue<long>(), n["layer"]!.GetValue<string>(), n["rows"]!.GetValue<string>(), n["weight"]!.GetValue<string>()))];

    private static float[] Load(string directory, string file)
    {
        using var tensor = load(Path.Combine(directory, file));
        return tensor.data<float>().ToArray();
    }

    private static int[] Bits(float[] values) => [.. values.Select(BitConverter.SingleToInt32Bits)];
}
