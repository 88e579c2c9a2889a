using Microsoft.Extensions.Logging.Testing;
using SpectralAlign.Telemetry;
using SpectralAlign.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Telemetry;

[Collection(TorchCollection.Name)]
public sealed class SinkTests
{
    private sealed class RecordingSink : ISpectralSink
    {
        public List<StepReport> Reports { get; } = [];

        public void OnStep(StepReport report) => Reports.Add(report);
    }

    private sealed class ThrowingSink : ISpectralSink, ICaptureSink
    {
        public void OnStep(StepReport report) => throw new IOException("disk full");

        public void OnCapture(CaptureRecord record) => throw new IOException("disk full");
    }

    private sealed class CopyingCaptureSink : ICaptureSink
    {
        public List<(long Step, string Layer, double[]? Rows, long InputRows, double[] Weight)> Records { get; } = [];

        public void OnCapture(CaptureRecord record) =>
            Records.Add((record.Step, record.Layer, record.Rows is null ? null : Reference.ToDoubles(record.Rows), record.InputRows, Reference.ToDoubles(record.Weight)));
    }

    [Fact]
    public void AddSink_ReceivesEveryMeasuredStepAfterDetection_UntilDisposed()
    {
        using var a = Layers.Gapped(8, 8, ScalarType.Float32, seed: 1);
        using var b = Layers.Gapped(4, 8, ScalarType.Float32, seed: 2);
        using var input = Layers.Randn([16, 8], ScalarType.Float32, seed: 3);
        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 2 });
        harness.Monitor.Watch(a, "a");
        harness.Monitor.Watch(b, "b");
        var sink = new RecordingSink();
        var registration = harness.Monitor.AddSink(sink);

        harness.Step(5, (a, input), (b, input));
        registration.Dispose();
        harness.Step(1, (a, input), (b, input));

        Assert.Equal([0L, 2L, 4L], sink.Reports.Select(r => r.Step).ToArray());
        Assert.All(sink.Reports, r => Assert.Equal(["a", "b"], r.Measurements.Select(m => m.Layer).ToArray()));
        Assert.Equal(harness.Measurements.Take(6), sink.Reports.SelectMany(r => r.Measurements));
        Assert.All(sink.Reports, r => Assert.Empty(r.Alerts));
    }

    [Fact]
    public void Sinks_ThatThrow_AreLoggedAndTrainingContinues()
    {
        using var layer = Layers.Gapped(8, 8, ScalarType.Float32, seed: 1);
        using var input = Layers.Randn([16, 8], ScalarType.Float32, seed: 3);
        var logger = new FakeLogger();
        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1 }, logger);
        var monitor = harness.Monitor;
        monitor.Watch(layer, "l");
        var thrower = new ThrowingSink();
        var recorder = new RecordingSink();
        monitor.AddSink(thrower);
        monitor.AddSink(recorder);
        monitor.AddCaptureSink(thrower);

        harness.Step(1, (layer, input));

        Assert.Single(harness.Measurements);
        Assert.Single(recorder.Reports);
        var records = logger.Collector.GetSnapshot();
        Assert.Single(records, r => r.Id.Id == 12 && r.Exception is IOException);
        Assert.Single(records, r => r.Id.Id == 13 && r.Exception is IOException);
    }

    [Fact]
    public void AddCaptureSink_MeasuredStep_ReceivesTheRowsAndWeightThatAreMeasured()
    {
        using var layer = Layers.Gapped(6, 8, ScalarType.Float32, seed: 1);
        using var input = Layers.Randn([40, 8], ScalarType.Float32, seed: 3);
        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1, MaxSamplesPerLayer = 10 });
        var monitor = harness.Monitor;
        monitor.Watch(layer, "l");
        var sink = new CopyingCaptureSink();
        monitor.AddCaptureSink(sink);

        harness.Step(1, (layer, input));
        monitor.Step(); // no forward on step 1: the record says so
        var measured = harness.Measurements[0];

        Assert.Equal(2, sink.Records.Count);
        var (step, name, rows, inputRows, weight) = sink.Records[0];
        Assert.Equal((0L, "l", 40L), (step, name, inputRows));
        Assert.Equal(Reference.ToDoubles(layer.weight!), weight);
        Assert.Equal(80, rows!.Length);
        // The captured rows are rows of the input, and the measurement is computed from exactly these rows.
        var inputRowsSet = Reference.Rows(input).Select(r => string.Join(",", r)).ToHashSet();
        var captured = Enumerable.Range(0, 10).Select(i => rows.AsSpan(i * 8, 8).ToArray()).ToArray();
        Assert.All(captured, r => Assert.Contains(string.Join(",", r), inputRowsSet));
        var (v1, _) = Reference.Svd(layer.weight!);
        Assert.Equal(Math.Abs(Reference.Alignments(captured, v1).Average()), measured.Stats.AbsMean, 1e-3);
        Assert.Null(sink.Records[1].Rows);
    }
}
