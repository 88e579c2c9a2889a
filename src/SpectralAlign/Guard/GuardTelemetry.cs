using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using SpectralAlign.Telemetry;

namespace SpectralAlign.Guard;

/// <summary>
/// The guard's instruments on the library's meter (<see cref="Telemetry.SpectralMetrics.MeterName"/>), created once;
/// recording costs nothing while no listener is enabled.
/// </summary>
/// <remarks>
/// <list type="table">
/// <item><term><c>spectralalign.guard.interventions</c></term><description>counter, tagged <c>action</c>.</description></item>
/// <item><term><c>spectralalign.guard.corrections</c></term><description>counter, tagged <c>correction</c> and <c>applied</c>.</description></item>
/// <item><term><c>spectralalign.guard.snapshot.duration</c></term><description>histogram, ms per snapshot.</description></item>
/// <item><term><c>spectralalign.guard.snapshot.bytes</c></term><description>gauge, bytes held by the snapshots.</description></item>
/// <item><term><c>spectralalign.guard.lr_scale</c></term><description>gauge, the learning-rate factor in force.</description></item>
/// </list>
/// </remarks>
internal static class GuardTelemetry
{
    private static readonly Meter Meter = new(Telemetry.SpectralMetrics.MeterName);

    public static readonly Counter<long> Interventions = Meter.CreateCounter<long>("spectralalign.guard.interventions", "{intervention}");

    public static readonly Counter<long> Corrections = Meter.CreateCounter<long>("spectralalign.guard.corrections", "{correction}");

    public static readonly Histogram<double> SnapshotDuration = Meter.CreateHistogram<double>("spectralalign.guard.snapshot.duration", "ms");

    public static readonly Gauge<long> SnapshotBytes = Meter.CreateGauge<long>("spectralalign.guard.snapshot.bytes", "By");

    public static readonly Gauge<double> LearningRateScale = Meter.CreateGauge<double>("spectralalign.guard.lr_scale", "1");

    public static void Intervened(GuardAction action, ILogger logger) => Safely(logger, () =>
    {
        if (Interventions.Enabled)
            Interventions.Add(1, new KeyValuePair<string, object?>("action", action.ToString()));
    });

    public static void Corrected(SpectralCorrection correction, bool applied, ILogger logger) => Safely(logger, () =>
    {
        if (Corrections.Enabled)
            Corrections.Add(1, new("correction", correction.ToString()), new("applied", applied));
    });

    public static void SnapshotTaken(double milliseconds, long bytes, ILogger logger) => Safely(logger, () =>
    {
        SnapshotDuration.Record(milliseconds);
        SnapshotBytes.Record(bytes);
    });

    public static void LearningRateScaled(double scale, ILogger logger) => Safely(logger, () => LearningRateScale.Record(scale));

    /// <summary>Records through <paramref name="record"/>; a metrics listener that throws (the instruments call
    /// listeners synchronously) is logged, never passed on to the training loop.</summary>
    private static void Safely(ILogger logger, Action record)
    {
        try
        {
            record();
        }
#pragma warning disable CA1031 // A listener's failure must never stop training.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.GuardMetricsFailed(logger, ex);
        }
    }
}
