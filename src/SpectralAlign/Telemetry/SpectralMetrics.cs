namespace SpectralAlign.Telemetry;

/// <summary>
/// The names of the monitor's metrics. Every <see cref="SpectralMonitor"/> publishes through
/// <c>System.Diagnostics.Metrics</c> on one <see cref="System.Diagnostics.Metrics.Meter"/> named
/// <see cref="MeterName"/> — no sink to add: the instruments exist once per process and cost nothing until a listener
/// (OpenTelemetry, <c>dotnet-counters</c>, a <see cref="System.Diagnostics.Metrics.MeterListener"/>) subscribes.
/// Subscribe with e.g. <c>AddMeter(SpectralMetrics.MeterName)</c>. With
/// <see cref="SpectralMonitorOptions.MeterFactory"/> the meter comes from that factory instead (dependency injection,
/// tests).
/// </summary>
/// <remarks>
/// <para>Instruments (every one tagged with <see cref="LayerTag"/> except <see cref="StepName"/>, and every one with
/// <see cref="SpectralMonitorOptions.MetricTags"/>):</para>
/// <list type="table">
/// <item><term><c>spectralalign.sa.mean</c></term><description>gauge, unit 1: mean SA of the layer's sampled rows.</description></item>
/// <item><term><c>spectralalign.sa.abs_mean</c></term><description>gauge, unit 1: |mean SA|.</description></item>
/// <item><term><c>spectralalign.sa.sign_diversity</c></term><description>gauge, unit 1: D = 2·min(p₊, 1 − p₊).</description></item>
/// <item><term><c>spectralalign.weight.spectral_norm</c></term><description>gauge, unit 1: σ1 of the weight.</description></item>
/// <item><term><c>spectralalign.weight.stable_rank</c></term><description>gauge, unit 1: ‖W‖²_F / σ1².</description></item>
/// <item><term><c>spectralalign.weight.upstream_alignment</c></term><description>gauge, unit 1:
/// <see cref="LayerMeasurement.UpstreamAlignment"/>, recorded only for linked layers where it is defined.</description></item>
/// <item><term><c>spectralalign.measurements</c></term><description>counter, unit {measurement}.</description></item>
/// <item><term><c>spectralalign.alerts</c></term><description>counter, unit {alert}, also tagged <see cref="ReasonTag"/>.</description></item>
/// <item><term><c>spectralalign.step</c></term><description>gauge, unit {step}: the last measured step.</description></item>
/// </list>
/// <para>SA gauges are not recorded for a measurement without valid rows (<see cref="SpectralAlignmentStats.Count"/>
/// = 0), and weight gauges not for a non-finite weight; the counters always are. Recording never throws.</para>
/// </remarks>
public static class SpectralMetrics
{
    /// <summary>The meter's name: <c>SpectralAlign</c>.</summary>
    public const string MeterName = "SpectralAlign";

    /// <summary>The tag that carries the layer name.</summary>
    public const string LayerTag = "layer";

    /// <summary>The tag that carries an alert's reason on <see cref="AlertsName"/>.</summary>
    public const string ReasonTag = "reason";

    /// <summary>Instrument name of the mean SA gauge.</summary>
    public const string SaMeanName = "spectralalign.sa.mean";

    /// <summary>Instrument name of the |mean SA| gauge.</summary>
    public const string SaAbsMeanName = "spectralalign.sa.abs_mean";

    /// <summary>Instrument name of the sign-diversity gauge.</summary>
    public const string SignDiversityName = "spectralalign.sa.sign_diversity";

    /// <summary>Instrument name of the spectral-norm gauge.</summary>
    public const string SpectralNormName = "spectralalign.weight.spectral_norm";

    /// <summary>Instrument name of the stable-rank gauge.</summary>
    public const string StableRankName = "spectralalign.weight.stable_rank";

    /// <summary>Instrument name of the upstream-alignment gauge (<see cref="LayerMeasurement.UpstreamAlignment"/>).</summary>
    public const string UpstreamAlignmentName = "spectralalign.weight.upstream_alignment";

    /// <summary>Instrument name of the measurement counter.</summary>
    public const string MeasurementsName = "spectralalign.measurements";

    /// <summary>Instrument name of the alert counter.</summary>
    public const string AlertsName = "spectralalign.alerts";

    /// <summary>Instrument name of the last-measured-step gauge.</summary>
    public const string StepName = "spectralalign.step";
}
