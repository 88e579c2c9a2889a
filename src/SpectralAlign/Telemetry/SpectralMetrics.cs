using System.Diagnostics.Metrics;

namespace SpectralAlign.Telemetry;

/// <summary>
/// Publishes the monitor's measurements through <c>System.Diagnostics.Metrics</c>, on one <see cref="Meter"/> named
/// <see cref="MeterName"/>, so any metrics pipeline (OpenTelemetry, <c>dotnet-counters</c>, Prometheus) can collect
/// them. Register with <see cref="SpectralMonitor.AddSink"/>.
/// </summary>
/// <remarks>
/// <para>Instruments (every one tagged with <see cref="LayerTag"/> except <see cref="StepName"/>, and every one with
/// <see cref="SpectralMetricsOptions.Tags"/>):</para>
/// <list type="table">
/// <item><term><c>spectralalign.sa.mean</c></term><description>gauge, unit 1: mean SA of the layer's sampled rows.</description></item>
/// <item><term><c>spectralalign.sa.abs_mean</c></term><description>gauge, unit 1: |mean SA|.</description></item>
/// <item><term><c>spectralalign.sa.sign_diversity</c></term><description>gauge, unit 1: D = 2·min(p₊, 1 − p₊).</description></item>
/// <item><term><c>spectralalign.weight.spectral_norm</c></term><description>gauge, unit 1: σ1 of the weight.</description></item>
/// <item><term><c>spectralalign.weight.stable_rank</c></term><description>gauge, unit 1: ‖W‖²_F / σ1².</description></item>
/// <item><term><c>spectralalign.measurements</c></term><description>counter, unit {measurement}.</description></item>
/// <item><term><c>spectralalign.alerts</c></term><description>counter, unit {alert}, also tagged <see cref="ReasonTag"/>.</description></item>
/// <item><term><c>spectralalign.step</c></term><description>gauge, unit {step}: the last measured step.</description></item>
/// </list>
/// <para>SA gauges are not recorded for a measurement without valid rows (<see cref="SpectralAlignmentStats.Count"/>
/// = 0), and weight gauges not for a non-finite weight; the counters always are. Recording never throws.</para>
/// <para>Without an <see cref="IMeterFactory"/> the instance owns its meter and disposes it; with one (dependency
/// injection), the factory owns it.</para>
/// </remarks>
public sealed class SpectralMetrics : ISpectralSink, IDisposable
{
    /// <summary>The meter's name: <c>SpectralAlign</c>. Subscribe to it, e.g. <c>AddMeter(SpectralMetrics.MeterName)</c>.</summary>
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

    /// <summary>Instrument name of the measurement counter.</summary>
    public const string MeasurementsName = "spectralalign.measurements";

    /// <summary>Instrument name of the alert counter.</summary>
    public const string AlertsName = "spectralalign.alerts";

    /// <summary>Instrument name of the last-measured-step gauge.</summary>
    public const string StepName = "spectralalign.step";

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly KeyValuePair<string, object?>[] _runTags;
    private readonly Gauge<double> _mean;
    private readonly Gauge<double> _absMean;
    private readonly Gauge<double> _signDiversity;
    private readonly Gauge<double> _spectralNorm;
    private readonly Gauge<double> _stableRank;
    private readonly Counter<long> _measurements;
    private readonly Counter<long> _alerts;
    private readonly Gauge<long> _step;

    /// <summary>Creates the meter and its instruments.</summary>
    /// <param name="options">Settings; <c>null</c> for the defaults (no run tags). Validated and copied.</param>
    /// <param name="meterFactory">Creates the meter (dependency injection); <c>null</c> to create and own it.</param>
    /// <exception cref="ArgumentException">The options are invalid; the message lists every problem.</exception>
    public SpectralMetrics(SpectralMetricsOptions? options = null, IMeterFactory? meterFactory = null)
    {
        var copy = (options ?? new SpectralMetricsOptions()).Clone();
        OptionProblems.ThrowIfAny(copy.Validate(), nameof(SpectralMetricsOptions), nameof(options));
        _runTags = [.. copy.Tags];
        string? version = typeof(SpectralMetrics).Assembly.GetName().Version?.ToString();
        var meterOptions = new MeterOptions(MeterName) { Version = version };
        if (meterFactory is null)
        {
            _meter = new Meter(meterOptions);
            _ownsMeter = true;
        }
        else
        {
            _meter = meterFactory.Create(meterOptions);
        }

        _mean = _meter.CreateGauge<double>(SaMeanName, "1", "Mean spectral alignment cos(h, v1) of the layer's sampled input rows, in [-1, 1]; its sign follows v1's convention.");
        _absMean = _meter.CreateGauge<double>(SaAbsMeanName, "1", "Absolute mean spectral alignment |mean cos(h, v1)|, in [0, 1]: how one-sided the layer's inputs are.");
        _signDiversity = _meter.CreateGauge<double>(SignDiversityName, "1", "Sign diversity D = 2·min(p+, 1 - p+) of the layer's spectral alignments: 1 balanced, 0 collapsed to one side.");
        _spectralNorm = _meter.CreateGauge<double>(SpectralNormName, "1", "Largest singular value of the layer's weight.");
        _stableRank = _meter.CreateGauge<double>(StableRankName, "1", "Stable rank ||W||_F^2 / sigma1^2 of the layer's weight.");
        _measurements = _meter.CreateCounter<long>(MeasurementsName, "{measurement}", "Measurements of the layer's spectral alignment.");
        _alerts = _meter.CreateCounter<long>(AlertsName, "{alert}", "Spectral-alignment alerts raised for the layer, by reason.");
        _step = _meter.CreateGauge<long>(StepName, "{step}", "The last training step at which the monitor measured.");
    }

    /// <summary>The meter the instruments belong to.</summary>
    public Meter Meter => _meter;

    /// <summary>Records the step's measurements and alerts.</summary>
    /// <param name="report">The step's measurements and alerts.</param>
    public void OnStep(StepReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        _step.Record(report.Step, _runTags);
        foreach (var m in report.Measurements)
        {
            var tags = Tags(m.Layer);
            _measurements.Add(1, tags);
            if (m.Stats.Count > 0)
            {
                _mean.Record(m.Stats.Mean, tags);
                _absMean.Record(m.Stats.AbsMean, tags);
                _signDiversity.Record(m.Stats.SignDiversity, tags);
            }

            if (double.IsFinite(m.SpectralNorm) && m.SpectralNorm > 0)
            {
                _spectralNorm.Record(m.SpectralNorm, tags);
                _stableRank.Record(m.StableRank, tags);
            }
        }

        foreach (var alert in report.Alerts)
        {
            var tags = Tags(alert.Layer);
            tags.Add(ReasonTag, alert.Reason);
            _alerts.Add(1, tags);
        }
    }

    /// <summary>Disposes the meter if this instance created it (not when it came from an
    /// <see cref="IMeterFactory"/>). Idempotent.</summary>
    public void Dispose()
    {
        if (_ownsMeter)
            _meter.Dispose();
    }

    private System.Diagnostics.TagList Tags(string layer)
    {
        var tags = new System.Diagnostics.TagList { { LayerTag, layer } };
        foreach (var tag in _runTags)
            tags.Add(tag);
        return tags;
    }
}
