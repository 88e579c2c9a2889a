using System.Diagnostics.Metrics;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using SpectralAlign.Telemetry;
using SpectralAlign.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Telemetry;

/// <summary>The monitor's metrics: recorded by every monitor, on the shared <c>SpectralAlign</c> meter or a factory's.
/// In the non-parallel torch collection, because the shared meter is process-wide.</summary>
[Collection(TorchCollection.Name)]
public sealed class SpectralMetricsTests
{
    /// <summary>Runs a monitor over two layers for 7 steps (measured at 0, 3, 6) and returns its measurements.</summary>
    private static List<LayerMeasurement> RunMonitor(SpectralMonitorOptions options, string prefix)
    {
        using var a = Layers.Gapped(8, 16, ScalarType.Float32, seed: 1);
        using var b = Layers.Gapped(4, 16, ScalarType.Float32, seed: 2);
        options.Interval = 3;
        using var harness = new MonitorHarness(options);
        harness.Monitor.Watch(a, prefix + "a");
        harness.Monitor.Watch(b, prefix + "b");
        for (int step = 0; step < 7; step++)
        {
            using var x = Layers.Randn([32, 16], ScalarType.Float32, seed: step);
            harness.Step(1, (a, x), (b, x));
        }

        return [.. harness.Measurements];
    }

    [Fact]
    public void Step_MeterFactory_RecordsEveryGaugePerLayer_WithLayerAndRunTags()
    {
        using var factory = new TestMeterFactory();
        var collectors = new[] { SpectralMetrics.SaMeanName, SpectralMetrics.SaAbsMeanName, SpectralMetrics.SignDiversityName, SpectralMetrics.SpectralNormName, SpectralMetrics.StableRankName }
            .ToDictionary(n => n, n => new MetricCollector<double>(factory, SpectralMetrics.MeterName, n));
        using var count = new MetricCollector<long>(factory, SpectralMetrics.MeterName, SpectralMetrics.MeasurementsName);
        using var step = new MetricCollector<long>(factory, SpectralMetrics.MeterName, SpectralMetrics.StepName);

        var online = RunMonitor(new SpectralMonitorOptions { MeterFactory = factory, MetricTags = { ["run"] = "exp-42", ["rank"] = 3 } }, "");

        Assert.Equal(6, online.Count);
        void Check(string name, Func<LayerMeasurement, double> value)
        {
            var recorded = collectors[name].GetMeasurementSnapshot();
            Assert.Equal(online.Select(m => (m.Layer, value(m))), recorded.Select(r => ((string)r.Tags[SpectralMetrics.LayerTag]!, r.Value)));
            Assert.All(recorded, r => Assert.Equal(("exp-42", 3), ((string)r.Tags["run"]!, (int)r.Tags["rank"]!)));
        }

        Check(SpectralMetrics.SaMeanName, m => m.Stats.Mean);
        Check(SpectralMetrics.SaAbsMeanName, m => m.Stats.AbsMean);
        Check(SpectralMetrics.SignDiversityName, m => m.Stats.SignDiversity);
        Check(SpectralMetrics.SpectralNormName, m => m.SpectralNorm);
        Check(SpectralMetrics.StableRankName, m => m.StableRank);
        Assert.Equal(6, count.GetMeasurementSnapshot().EvaluateAsCounter());
        Assert.Equal([0L, 3L, 6L], step.GetMeasurementSnapshot().Select(r => r.Value));
        Assert.Equal("{measurement}", count.Instrument!.Unit);
        Assert.Equal("1", collectors[SpectralMetrics.SaMeanName].Instrument!.Unit);
        Assert.Single(factory.Meters, m => m.Name == SpectralMetrics.MeterName);
        foreach (var collector in collectors.Values)
            collector.Dispose();
    }

    [Fact]
    public void Step_NoFactory_PublishesOnTheSharedSpectralAlignMeter()
    {
        using var diversity = new MetricCollector<double>(null, SpectralMetrics.MeterName, SpectralMetrics.SignDiversityName);

        var online = RunMonitor(new SpectralMonitorOptions(), "shared-meter-test.");

        // Only this test's layers: the shared meter is process-wide.
        var recorded = diversity.GetMeasurementSnapshot().Where(r => ((string)r.Tags[SpectralMetrics.LayerTag]!).StartsWith("shared-meter-test.", StringComparison.Ordinal));
        Assert.Equal(online.Select(m => (m.Layer, m.Stats.SignDiversity)), recorded.Select(r => ((string)r.Tags[SpectralMetrics.LayerTag]!, r.Value)));
        Assert.Equal(SpectralMetrics.MeterName, diversity.Instrument!.Meter.Name);
        Assert.Null(diversity.Instrument.Meter.Scope);
    }

    [Fact]
    public void Record_AlertsCounter_TaggedWithLayerAndReason()
    {
        using var meter = new Meter("test-alerts");
        var instruments = new SpectralInstruments(meter);
        using var alerts = new MetricCollector<long>(meter, SpectralMetrics.AlertsName);

        foreach (var report in Reports.Run(4, alertStep: 20))
            instruments.Record(report.Step, report.Measurements, report.Alerts, [new("run", "r")]);

        var recorded = alerts.GetMeasurementSnapshot();
        Assert.Equal(1, recorded.EvaluateAsCounter());
        Assert.Equal(("blocks.0/b", AlertReasons.SignCollapse, "r"), ((string)recorded[0].Tags[SpectralMetrics.LayerTag]!, (string)recorded[0].Tags[SpectralMetrics.ReasonTag]!, (string)recorded[0].Tags["run"]!));
        Assert.Equal("{alert}", alerts.Instrument!.Unit);
    }

    [Fact]
    public void Record_EmptyStatsOrNonFiniteWeight_SkipsThoseGaugesButCounts()
    {
        using var meter = new Meter("test-empty");
        var instruments = new SpectralInstruments(meter);
        using var mean = new MetricCollector<double>(meter, SpectralMetrics.SaMeanName);
        using var norm = new MetricCollector<double>(meter, SpectralMetrics.SpectralNormName);
        using var count = new MetricCollector<long>(meter, SpectralMetrics.MeasurementsName);
        var empty = Measurements.Bare("x", 0, MeasurementConditions.NonFiniteWeight, sigma: double.PositiveInfinity, frobenius: double.PositiveInfinity);

        instruments.Record(0, [empty], [], []);

        Assert.Empty(mean.GetMeasurementSnapshot());
        Assert.Empty(norm.GetMeasurementSnapshot());
        Assert.Equal(1, count.GetMeasurementSnapshot().EvaluateAsCounter());
    }

    [Fact]
    public void Record_NoListener_AllocatesNothing()
    {
        using var meter = new Meter("test-no-listener");
        var instruments = new SpectralInstruments(meter);
        var reports = Reports.Run(8, alertStep: 30).ToList();
        KeyValuePair<string, object?>[] runTags = [new("run", "r")];
        instruments.Record(0, reports[0].Measurements, reports[0].Alerts, runTags);   // JIT first

        long before = GC.GetAllocatedBytesForCurrentThread();
        foreach (var report in reports)
            instruments.Record(report.Step, report.Measurements, report.Alerts, runTags);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        using var collector = new MetricCollector<long>(meter, SpectralMetrics.MeasurementsName);
        instruments.Record(0, reports[0].Measurements, reports[0].Alerts, runTags);
        Assert.Equal(2, collector.GetMeasurementSnapshot().EvaluateAsCounter());   // and records once something listens
    }

    [Fact]
    public void Constructor_InvalidMetricTags_ListsEveryProblem()
    {
        var ex = Assert.Throws<ArgumentException>(() => new SpectralMonitor(new SpectralMonitorOptions { MetricTags = new Dictionary<string, object?> { [""] = 1, ["layer"] = "x" } }));
        Assert.Contains("2 problems", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'layer'", ex.Message, StringComparison.Ordinal);
    }
}
