using System.Diagnostics.Metrics;

namespace SpectralAlign.Tests.Support;

/// <summary>A meter factory whose meters belong to one test (their <see cref="Meter.Scope"/> is the factory), so a
/// listener can pick exactly one monitor's instruments; disposes its meters.</summary>
internal sealed class TestMeterFactory : IMeterFactory
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
