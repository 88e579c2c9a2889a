using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging.Testing;
using SpectralAlign.Telemetry;
using SpectralAlign.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Telemetry;

/// <summary>What a step publishes when a metrics listener — code the user plugs in like a handler — throws.</summary>
[Collection(TorchCollection.Name)]
public sealed class StepPublisherTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Step_MeterListenerThrows_DoesNotThrow_PublishesEveryStep_AndLogsTheFailure(bool background)
    {
        using var layer = Layers.Gapped(8, 16, ScalarType.Float32, seed: 1);
        using var input = Layers.Randn([32, 16], ScalarType.Float32, seed: 2);
        using var factory = new TestMeterFactory();
        using var listener = ThrowingListener(factory);
        var logger = new FakeLogger();
        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1, MeterFactory = factory, MeasureInBackground = background }, logger);
        harness.Monitor.Watch(layer, "l");

        harness.Step(3, (layer, input));   // none of these may throw into the training loop
        harness.Monitor.Flush();

        Assert.Equal([0L, 1L, 2L], harness.Measurements.Select(m => m.Step));
        var failures = logger.Collector.GetSnapshot().Where(r => r.Id.Id == 16).ToList();
        Assert.Equal(3, failures.Count);
        Assert.All(failures, r => Assert.IsType<InvalidOperationException>(r.Exception));
        Assert.All(failures, r => Assert.Equal("MetricsListenerFailed", r.Id.Name));
    }

    /// <summary>A listener of the <c>SpectralAlign</c> meter made by <paramref name="factory"/> (only this test's
    /// monitor) whose measurement callback throws.</summary>
    private static MeterListener ThrowingListener(TestMeterFactory factory)
    {
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == SpectralMetrics.MeterName && ReferenceEquals(instrument.Meter.Scope, factory))
                    l.EnableMeasurementEvents(instrument);
            },
        };
        listener.SetMeasurementEventCallback<double>((_, _, _, _) => throw new InvalidOperationException("listener bug"));
        listener.SetMeasurementEventCallback<long>((_, _, _, _) => throw new InvalidOperationException("listener bug"));
        listener.Start();
        return listener;
    }
}
