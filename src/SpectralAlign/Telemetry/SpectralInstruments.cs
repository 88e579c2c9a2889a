using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace SpectralAlign.Telemetry;

/// <summary>
/// The nine instruments of <see cref="SpectralMetrics"/> on one meter, and how a step is recorded to them. Recording
/// checks each instrument's <c>Enabled</c> first, so without a listener it builds no tags and allocates nothing.
/// </summary>
internal sealed class SpectralInstruments(Meter meter)
{
    private readonly Gauge<double> _mean = meter.CreateGauge<double>(SpectralMetrics.SaMeanName, "1", "Mean spectral alignment cos(h, v1) of the layer's sampled input rows, in [-1, 1]; its sign follows v1's convention.");
    private readonly Gauge<double> _absMean = meter.CreateGauge<double>(SpectralMetrics.SaAbsMeanName, "1", "Absolute mean spectral alignment |mean cos(h, v1)|, in [0, 1]: how one-sided the layer's inputs are.");
    private readonly Gauge<double> _signDiversity = meter.CreateGauge<double>(SpectralMetrics.SignDiversityName, "1", "Sign diversity D = 2·min(p+, 1 - p+) of the layer's spectral alignments: 1 balanced, 0 collapsed to one side.");
    private readonly Gauge<double> _spectralNorm = meter.CreateGauge<double>(SpectralMetrics.SpectralNormName, "1", "Largest singular value of the layer's weight.");
    private readonly Gauge<double> _stableRank = meter.CreateGauge<double>(SpectralMetrics.StableRankName, "1", "Stable rank ||W||_F^2 / sigma1^2 of the layer's weight.");
    private readonly Gauge<double> _upstreamAlignment = meter.CreateGauge<double>(SpectralMetrics.UpstreamAlignmentName, "1", "|cos(u1 of the upstream layer, v1 of this layer)| in [0, 1]: how well adjacent layers' top directions line up.");
    private readonly Counter<long> _measurements = meter.CreateCounter<long>(SpectralMetrics.MeasurementsName, "{measurement}", "Measurements of the layer's spectral alignment.");
    private readonly Counter<long> _alerts = meter.CreateCounter<long>(SpectralMetrics.AlertsName, "{alert}", "Spectral-alignment alerts raised for the layer, by reason.");
    private readonly Gauge<long> _step = meter.CreateGauge<long>(SpectralMetrics.StepName, "{step}", "The last training step at which the monitor measured.");

    public Meter Meter { get; } = meter;

    /// <summary>Records a step's measurements and alerts, tagged with the layer and <paramref name="runTags"/>.</summary>
    public void Record(long step, IReadOnlyList<LayerMeasurement> measurements, IReadOnlyList<CollapseAlert> alerts, KeyValuePair<string, object?>[] runTags)
    {
        if (measurements.Count > 0 && _step.Enabled)
            _step.Record(step, runTags);
        if (measurements.Count > 0 && (_measurements.Enabled || _mean.Enabled || _absMean.Enabled || _signDiversity.Enabled || _spectralNorm.Enabled || _stableRank.Enabled || _upstreamAlignment.Enabled))
        {
            foreach (var m in measurements)
                Record(m, Tags(m.Layer, runTags));
        }

        if (alerts.Count > 0 && _alerts.Enabled)
        {
            foreach (var alert in alerts)
            {
                var tags = Tags(alert.Layer, runTags);
                tags.Add(SpectralMetrics.ReasonTag, alert.Reason);
                _alerts.Add(1, tags);
            }
        }
    }

    private void Record(LayerMeasurement m, in TagList tags)
    {
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

        if (!double.IsNaN(m.UpstreamAlignment))
            _upstreamAlignment.Record(m.UpstreamAlignment, tags);
    }

    private static TagList Tags(string layer, KeyValuePair<string, object?>[] runTags)
    {
        var tags = new TagList { { SpectralMetrics.LayerTag, layer } };
        foreach (var tag in runTags)
            tags.Add(tag);
        return tags;
    }
}
