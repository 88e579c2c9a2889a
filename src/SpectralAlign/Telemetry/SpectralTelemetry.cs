using System.Diagnostics.Metrics;
using System.Reflection;

namespace SpectralAlign.Telemetry;

/// <summary>
/// The process-wide <c>SpectralAlign</c> meter and its instruments, created once on first use and shared by every
/// monitor (their measurements differ by the <c>layer</c> tag and the run's <see cref="SpectralMonitorOptions.MetricTags"/>).
/// A monitor given an <see cref="IMeterFactory"/> gets instruments on that factory's meter instead, which the factory
/// owns. The shared meter is never disposed: it lives as long as the process, like .NET's own library meters.
/// </summary>
internal static class SpectralTelemetry
{
    /// <summary>The library's informational version without build metadata (e.g. <c>0.1.0</c>).</summary>
    public static readonly string? Version = typeof(SpectralTelemetry).Assembly
        .GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0];

    /// <summary>The instruments on the shared meter.</summary>
    public static SpectralInstruments Shared { get; } = new(new Meter(new MeterOptions(SpectralMetrics.MeterName) { Version = Version }));

    /// <summary>The instruments a monitor records to: on <paramref name="factory"/>'s meter, or the shared ones.</summary>
    public static SpectralInstruments For(IMeterFactory? factory) =>
        factory is null ? Shared : new(factory.Create(new MeterOptions(SpectralMetrics.MeterName) { Version = Version }));
}
