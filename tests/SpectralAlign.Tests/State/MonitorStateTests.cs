using System.Text;
using System.Text.Json.Nodes;
using SpectralAlign.Detection;
using SpectralAlign.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.State;

[Collection(TorchCollection.Name)]
public sealed class MonitorStateTests
{
    private const int DriftStart = 300, TotalSteps = 520, ResumeAt = 200;

    private static SpectralMonitorOptions Options() => new()
    {
        Interval = 5,
        Detection = new DetectionOptions { WarmupSteps = 25, Rules = [new BaselineRelativeRule { BaselineMeasurements = 10 }] },
    };

    [Fact]
    public void LoadState_ResumedMidRun_SameMeasurementsAndAlertsAsUninterruptedRun()
    {
        var uninterrupted = Run(resumeAt: null);
        var resumed = Run(resumeAt: ResumeAt);

        Assert.Contains(uninterrupted.Alerts, a => a.StartsWith("fc2", StringComparison.Ordinal));
        Assert.Equal(uninterrupted.Alerts, resumed.Alerts);
        var after = uninterrupted.Measurements.Where(m => m.Step >= ResumeAt).Select(Describe).ToArray();
        Assert.Equal(after, resumed.Measurements.Where(m => m.Step >= ResumeAt).Select(Describe).ToArray());
        // No cold start and no new warm-up after the resume.
        Assert.DoesNotContain(resumed.Measurements, m => m.Step >= ResumeAt && m.Conditions.HasFlag(MeasurementConditions.ColdStart));
    }

    [Fact]
    public void LoadState_WithoutRestore_WouldReenterWarmup()
    {
        // The control for the test above: a fresh monitor attached mid-run cold-starts and re-learns its baseline,
        // so it misses the planted collapse that the restored one catches.
        var fresh = Run(resumeAt: ResumeAt, restore: false);
        var uninterrupted = Run(resumeAt: null);
        Assert.Equal(3, uninterrupted.Measurements.Count(m => m.Conditions.HasFlag(MeasurementConditions.ColdStart)));
        Assert.Equal(6, fresh.Measurements.Count(m => m.Conditions.HasFlag(MeasurementConditions.ColdStart)));
        Assert.NotEqual(uninterrupted.Alerts, fresh.Alerts);
    }

    [Fact]
    public void LoadState_InvalidDocument_ThrowsInvalidData()
    {
        using var monitor = new SpectralMonitor();
        Assert.Throws<InvalidDataException>(() => monitor.LoadState(new MemoryStream(Encoding.UTF8.GetBytes("{\"format\":\"something else\"}"))));
        Assert.Throws<InvalidDataException>(() => monitor.LoadState(new MemoryStream(Encoding.UTF8.GetBytes("not json"))));
        Assert.Throws<InvalidDataException>(() => monitor.LoadState(new MemoryStream(Encoding.UTF8.GetBytes("{\"format\":\"SpectralAlign.MonitorState\",\"version\":99}"))));
    }

    public static TheoryData<string, string> BrokenFields() => new()
    {
        { "remove:step", "'step'" },
        { "remove:version", "'version'" },
        { "remove:layers", "'layers'" },
        { "remove:detector", "'detector'" },
        { "remove:layers[0].name", "'layers[0].name'" },
        { "remove:layers[0].groups", "'layers[0].groups'" },
        { "remove:layers[0].in", "'layers[0].in'" },
        { "remove:layers[0].iterationHint", "'layers[0].iterationHint'" },
        { "remove:layers[0].subspace", "'layers[0].subspace'" },
        { "string:step", "step" },
        { "string:layers[0].groups", "layers[0].groups" },
        { "string:layers[0].basis", "'layers[0].basis'" },
        { "null:layers[0]", "'layers[0]'" },
    };

    [Theory]
    [MemberData(nameof(BrokenFields))]
    public void LoadState_MissingOrBadField_ThrowsInvalidDataNamingTheField(string edit, string named)
    {
        using var layer = nn.Linear(4, 4);
        using var input = ones(8, 4);
        using var saving = new SpectralMonitor(new SpectralMonitorOptions { Interval = 1 });
        saving.Watch(layer, "a");
        using (no_grad())
            layer.call(input).Dispose();
        saving.Step();
        using var saved = new MemoryStream();
        saving.SaveState(saved);
        var root = JsonNode.Parse(saved.ToArray())!.AsObject();

        var (kind, path) = (edit[..edit.IndexOf(':')], edit[(edit.IndexOf(':') + 1)..]);
        var (parent, key) = path.StartsWith("layers[0]", StringComparison.Ordinal) && path != "layers[0]"
            ? (root["layers"]![0]!.AsObject(), path["layers[0].".Length..])
            : (root, path);
        if (path == "layers[0]")
            root["layers"]![0] = null;
        else if (kind == "remove")
            parent.Remove(key);
        else
            parent[key] = "not a number or base64 ~";

        using var loading = new SpectralMonitor(new SpectralMonitorOptions { Interval = 1 });
        loading.Watch(layer, "a");
        var ex = Assert.Throws<InvalidDataException>(() => loading.LoadState(new MemoryStream(Encoding.UTF8.GetBytes(root.ToJsonString()))));
        Assert.Contains(named, ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, loading.CurrentStep);   // nothing was restored
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LoadState_BadDetectorPart_ThrowsBeforeChangingAnything(bool background)
    {
        // Step 0 is measured and alerted (a rule that always fires, at once); a state whose detector part is not a
        // detector state must be refused before the unpublished step is dropped or the watches forget it.
        using var layer = Layers.Gapped(8, 8, ScalarType.Float32, seed: 1);
        using var input = Layers.Randn([16, 8], ScalarType.Float32, seed: 2);
        using var harness = new MonitorHarness(new SpectralMonitorOptions
        {
            Interval = 1,
            MeasureInBackground = background,
            Detection = new DetectionOptions { WarmupSteps = 0, Rules = [new TestRules.AlwaysFires()] },
        });
        var watch = harness.Monitor.Watch(layer, "l");
        harness.Step(1, (layer, input));
        var root = SavedState(harness.Monitor);
        root["detector"] = new JsonObject();

        var ex = Assert.Throws<InvalidDataException>(() => harness.Monitor.LoadState(new MemoryStream(Encoding.UTF8.GetBytes(root.ToJsonString()))));
        Assert.Contains("detector", ex.Message, StringComparison.Ordinal);
        Assert.Equal(1, harness.Monitor.CurrentStep);
        Assert.Equal(0, watch.LastMeasurement?.Step);   // still the run's own measurement
        harness.Monitor.Flush();                          // publishes step 0 in the background; nothing in the foreground
        Assert.Equal(0, Assert.Single(harness.Measurements).Step);
        var alert = Assert.Single(harness.Alerts);
        Assert.Equal(("l", 0L, "Always"), (alert.Layer, alert.Step, alert.Reason));
    }

    [Fact]
    public void LoadState_RowsCapturedBefore_AreNotMeasuredAfter()
    {
        // 32 rows forwarded on the old run's measured step 0 are still held when the state of step 500 is loaded: the
        // restored run must measure only the rows it forwards itself.
        using var layer = Layers.Gapped(8, 8, ScalarType.Float32, seed: 1);
        using var stale = Layers.Randn([32, 8], ScalarType.Float32, seed: 2);
        using var fresh = Layers.Randn([8, 8], ScalarType.Float32, seed: 3);
        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 10, MaxSamplesPerLayer = 16 });
        harness.Monitor.Watch(layer, "l");
        var root = SavedState(harness.Monitor);
        root["step"] = 500;

        MonitorHarness.Forward((layer, stale));
        Assert.Empty(harness.Monitor.LoadState(new MemoryStream(Encoding.UTF8.GetBytes(root.ToJsonString()))));
        for (int i = 0; i < 10; i++)
            harness.Monitor.Step();
        harness.Step(1, (layer, fresh));

        Assert.Equal([500L, 510L], harness.Measurements.Select(m => m.Step));
        Assert.Equal([0L, 8L], harness.Measurements.Select(m => m.InputRows));
        Assert.True(harness.Measurements[0].Conditions.HasFlag(MeasurementConditions.NoInput));
    }

    [Fact]
    public void LoadState_ChangedLayers_ReportsWhatStartsCold()
    {
        using var a = nn.Linear(4, 4);
        using var b = nn.Linear(4, 6);
        using var input = ones(8, 4);
        using var saving = new SpectralMonitor(new SpectralMonitorOptions { Interval = 1 });
        saving.Watch(a, "a");
        saving.Watch(b, "b");
        using (no_grad())
        {
            a.call(input).Dispose();
            b.call(input).Dispose();
        }

        saving.Step();
        using var stream = new MemoryStream();
        saving.SaveState(stream);

        using var c = nn.Linear(5, 4);
        using var loading = new SpectralMonitor(new SpectralMonitorOptions { Interval = 1 });
        loading.Watch(a, "a");
        loading.Watch(c, "b");
        stream.Position = 0;
        var problems = loading.LoadState(stream);
        Assert.Single(problems, p => p.StartsWith("b:", StringComparison.Ordinal) && p.Contains("shape", StringComparison.Ordinal));
        Assert.Equal(1, loading.CurrentStep);
    }

    /// <summary>The monitor's state as a JSON object, to edit.</summary>
    private static JsonObject SavedState(SpectralMonitor monitor)
    {
        using var stream = new MemoryStream();
        monitor.SaveState(stream);
        return JsonNode.Parse(stream.ToArray())!.AsObject();
    }

    private static string Describe(LayerMeasurement m) =>
        FormattableString.Invariant($"{m.Layer}@{m.Step}:{m.Stats.Mean:R}/{m.Stats.SignDiversity:R}/{m.SpectralNorm:R}/{m.Conditions}");

    private static (List<string> Alerts, List<LayerMeasurement> Measurements) Run(int? resumeAt, bool restore = true)
    {
        using var model = Training.Mlp(seed: 5);
        using var task = new TeacherTask(32, 10, seed: 105);
        var harnesses = new List<MonitorHarness>();
        MonitorHarness Attach()
        {
            var attached = new MonitorHarness(Options());
            attached.Monitor.WatchAll(model);
            harnesses.Add(attached);
            return attached;
        }

        var harness = Attach();
        try
        {
            Training.Run(model, task, monitor: null, TotalSteps, beforeStep: step =>
            {
                model.drift.Alpha = step >= DriftStart ? Math.Min(3.0, (step - DriftStart) / 50.0) : 0;
                if (step == resumeAt)
                {
                    // Checkpoint and resume: the old monitor is gone, a new one restores its state.
                    using var checkpoint = new MemoryStream();
                    harness.Monitor.SaveState(checkpoint);
                    harness.Dispose();
                    harness = Attach();
                    checkpoint.Position = 0;
                    if (restore)
                        Assert.Empty(harness.Monitor.LoadState(checkpoint));
                }
            }, afterStep: (_, _) => harness.Monitor.Step());
        }
        finally
        {
            harness.Dispose();
        }

        // Both monitors' publications, in order (the first one's end where the second one's begin).
        return ([.. harnesses.SelectMany(h => h.Alerts).Select(a => $"{a.Layer}@{a.Step}:{a.Reason}")], [.. harnesses.SelectMany(h => h.Measurements)]);
    }
}
