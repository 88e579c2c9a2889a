using System.Diagnostics.Metrics;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using SpectralAlign.Telemetry;
using SpectralAlign.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Telemetry;

public sealed class SpectralMetricsTests
{
    private sealed class TestMeterFactory : IMeterFactory
    {
        public List<Meter> Meters { get; } = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(options.Name, options.Version, options.Tags, scope: this);
            Meters.Add(meter);
            return meter;
        }

        public void Dispose()
        {
            foreach (var meter in Meters)
                meter.Dispose();
        }
    }

    private static SpectralMetrics Create(Dictionary<string, object?> tags, out TestMeterFactory factory)
    {
        factory = new TestMeterFactory();
        return new SpectralMetrics(new SpectralMetricsOptions { Tags = tags }, factory);
    }

    [Fact]
    public void OnStep_RecordsEveryGaugePerLayer_WithLayerAndRunTags()
    {
        var runTags = new Dictionary<string, object?> { ["run"] = "exp-42", ["rank"] = 3 };
        using var metrics = Create(runTags, out var factory);
        using var _ = factory;
        using var mean = new MetricCollector<double>(metrics.Meter, SpectralMetrics.SaMeanName);
        using var absMean = new MetricCollector<double>(metrics.Meter, SpectralMetrics.SaAbsMeanName);
        using var diversity = new MetricCollector<double>(metrics.Meter, SpectralMetrics.SignDiversityName);
        using var norm = new MetricCollector<double>(metrics.Meter, SpectralMetrics.SpectralNormName);
        using var rank = new MetricCollector<double>(metrics.Meter, SpectralMetrics.StableRankName);
        using var count = new MetricCollector<long>(metrics.Meter, SpectralMetrics.MeasurementsName);
        using var step = new MetricCollector<long>(metrics.Meter, SpectralMetrics.StepName);
        var reports = Reports.Run(3).ToList();

        foreach (var report in reports)
            metrics.OnStep(report);

        var expected = reports.SelectMany(r => r.Measurements).ToList();
        void Check(MetricCollector<double> collector, Func<LayerMeasurement, double> value)
        {
            var recorded = collector.GetMeasurementSnapshot();
            Assert.Equal(expected.Select(m => (m.Layer, value(m))), recorded.Select(r => ((string)r.Tags[SpectralMetrics.LayerTag]!, r.Value)));
            Assert.All(recorded, r => Assert.Equal(("exp-42", 3), ((string)r.Tags["run"]!, (int)r.Tags["rank"]!)));
            Assert.All(recorded, r => Assert.Equal(3, r.Tags.Count));
        }

        Check(mean, m => m.Stats.Mean);
        Check(absMean, m => m.Stats.AbsMean);
        Check(diversity, m => m.Stats.SignDiversity);
        Check(norm, m => m.SpectralNorm);
        Check(rank, m => m.StableRank);
        Assert.Equal(6, count.GetMeasurementSnapshot().EvaluateAsCounter());
        Assert.Equal([0L, 10, 20], step.GetMeasurementSnapshot().Select(r => r.Value));
        Assert.Equal("1", mean.Instrument!.Unit);
        Assert.False(string.IsNullOrWhiteSpace(mean.Instrument.Description));
        Assert.Equal(SpectralMetrics.MeterName, metrics.Meter.Name);
        Assert.Same(factory.Meters.Single(), metrics.Meter);
    }

    [Fact]
    public void OnStep_Alerts_CountedByLayerAndReason()
    {
        using var metrics = Create(new Dictionary<string, object?> { ["run"] = "r" }, out var factory);
        using var _ = factory;
        using var alerts = new MetricCollector<long>(metrics.Meter, SpectralMetrics.AlertsName);
        var m = Reports.Measurement("head", 990, 0.4, 0.05);
        metrics.OnStep(new StepReport { Step = 990, Measurements = [m], Alerts = [Reports.Alert(m), Reports.Alert(m, AlertReasons.AbsoluteSignCollapse)] });
        metrics.OnStep(new StepReport { Step = 1000, Measurements = [m], Alerts = [Reports.Alert(m)] });

        var recorded = alerts.GetMeasurementSnapshot();
        Assert.Equal(3, recorded.EvaluateAsCounter());
        Assert.Equal(2, recorded.ContainsTags(new KeyValuePair<string, object?>(SpectralMetrics.ReasonTag, AlertReasons.SignCollapse)).EvaluateAsCounter());
        Assert.All(recorded, r => Assert.Equal(("head", "r"), ((string)r.Tags[SpectralMetrics.LayerTag]!, (string)r.Tags["run"]!)));
        Assert.Equal("{alert}", alerts.Instrument!.Unit);
    }

    [Fact]
    public void OnStep_EmptyStatsOrNonFiniteWeight_SkipsThoseGaugesButCounts()
    {
        using var metrics = new SpectralMetrics();
        using var mean = new MetricCollector<double>(metrics.Meter, SpectralMetrics.SaMeanName);
        using var norm = new MetricCollector<double>(metrics.Meter, SpectralMetrics.SpectralNormName);
        using var count = new MetricCollector<long>(metrics.Meter, SpectralMetrics.MeasurementsName);
        var empty = new LayerMeasurement { Layer = "x", Step = 0, SpectralNorm = double.PositiveInfinity, FrobeniusNorm = double.PositiveInfinity, Conditions = MeasurementConditions.NonFiniteWeight };

        metrics.OnStep(new StepReport { Step = 0, Measurements = [empty] });

        Assert.Empty(mean.GetMeasurementSnapshot());
        Assert.Empty(norm.GetMeasurementSnapshot());
        Assert.Equal(1, count.GetMeasurementSnapshot().EvaluateAsCounter());
    }

    [Fact]
    public void Constructor_InvalidOptions_ListsEveryProblem()
    {
        var ex = Assert.Throws<ArgumentException>(() => new SpectralMetrics(new SpectralMetricsOptions { Tags = new Dictionary<string, object?> { [""] = 1, ["layer"] = "x" } }));
        Assert.Contains("2 problems", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'layer'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Dispose_OwnMeterIsDisposed_FactoryMeterIsNot()
    {
        var own = new SpectralMetrics();
        using var listener = new MeterListener();
        var published = new List<string>();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter, own.Meter))
            {
                published.Add(instrument.Name);
                l.EnableMeasurementEvents(instrument);
            }
        };
        var completed = new List<string>();
        listener.MeasurementsCompleted = (instrument, _) => completed.Add(instrument.Name);
        listener.Start();
        Assert.Contains(SpectralMetrics.SaMeanName, published);
        own.Dispose();
        Assert.Equal(published.Order(), completed.Order()); // the meter was disposed with the sink

        using var factory = new TestMeterFactory();
        var shared = new SpectralMetrics(meterFactory: factory);
        shared.Dispose();
        using var collector = new MetricCollector<long>(shared.Meter, SpectralMetrics.MeasurementsName);
        shared.OnStep(Reports.Run(1).Single());
        Assert.Equal(2, collector.GetMeasurementSnapshot().EvaluateAsCounter()); // still usable: the factory owns it
    }
}

/// <summary>Metrics from a live monitor, observed with a plain <see cref="MeterListener"/>.</summary>
[Collection(TorchCollection.Name)]
public sealed class SpectralMetricsMonitorTests
{
    [Fact]
    public void AddSink_LiveMonitor_MeterListenerSeesEveryLayerEveryMeasuredStep()
    {
        using var a = Layers.Gapped(8, 16, ScalarType.Float32, seed: 1);
        using var b = Layers.Gapped(4, 16, ScalarType.Float32, seed: 2);
        using var monitor = new SpectralMonitor(new SpectralMonitorOptions { Interval = 3 });
        monitor.Watch(a, "a");
        monitor.Watch(b, "b");
        var online = new List<LayerMeasurement>();
        monitor.Measured += (_, m) => online.Add(m);
        using var metrics = new SpectralMetrics(new SpectralMetricsOptions { Tags = { ["rank"] = 1 } });
        using var registration = monitor.AddSink(metrics);

        var seen = new List<(string Instrument, string Layer, double Value, object? Rank)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter, metrics.Meter))
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
        {
            string layer = "";
            object? rank = null;
            foreach (var tag in tags)
            {
                if (tag.Key == SpectralMetrics.LayerTag) layer = (string)tag.Value!;
                if (tag.Key == "rank") rank = tag.Value;
            }

            seen.Add((instrument.Name, layer, value, rank));
        });
        listener.Start();

        for (int step = 0; step < 7; step++)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var x = Layers.Randn([32, 16], ScalarType.Float32, seed: step);
            a.call(x);
            b.call(x);
            monitor.Step();
        }

        Assert.Equal(6, online.Count); // steps 0, 3, 6 × 2 layers
        Assert.Equal(online.Select(m => ("a" == m.Layer ? "a" : "b", m.Stats.SignDiversity)),
            seen.Where(s => s.Instrument == SpectralMetrics.SignDiversityName).Select(s => (s.Layer, s.Value)));
        Assert.Equal(online.Select(m => m.SpectralNorm), seen.Where(s => s.Instrument == SpectralMetrics.SpectralNormName).Select(s => s.Value));
        Assert.All(seen, s => Assert.Equal(1, s.Rank));
    }
}
