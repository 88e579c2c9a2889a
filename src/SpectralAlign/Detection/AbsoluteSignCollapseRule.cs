using System.Globalization;

namespace SpectralAlign.Detection;

/// <summary>
/// The paper's rule with fixed thresholds: a measurement is anomalous when |mean SA| ≥ <see cref="MeanThreshold"/>
/// or the sign diversity ≤ <see cref="DiversityThreshold"/>.
/// </summary>
/// <remarks>
/// Qiu et al. (2025) report healthy layers centred on zero and collapsing layers drifting to |mean SA| ≈ 0.2 and
/// beyond. Measured on small CPU-trained models, several healthy layers (query projections, FFN gates, LM heads,
/// post-ReLU inputs) sit beyond these thresholds for the whole run, so this rule raises false alarms there; it is
/// offered for comparison and for models where it is known to fit. The default rule is
/// <see cref="BaselineRelativeRule"/>.
/// </remarks>
public sealed class AbsoluteSignCollapseRule : IDetectionRule
{
    /// <summary>|mean SA| at or above which a measurement is anomalous. Default <c>0.2</c>.</summary>
    public double MeanThreshold { get; set; } = 0.2;

    /// <summary>Sign diversity at or below which a measurement is anomalous (0.1 means at most 5% of the values
    /// have the minority sign). Default <c>0.1</c>.</summary>
    public double DiversityThreshold { get; set; } = 0.1;

    /// <inheritdoc />
    public string Reason => AlertReasons.AbsoluteSignCollapse;

    /// <inheritdoc />
    public ILayerDetector CreateDetector(string layer) => new Detector(MeanThreshold, DiversityThreshold);

    /// <inheritdoc />
    public IEnumerable<string> Validate()
    {
        if (!(MeanThreshold > 0 && MeanThreshold <= 1))
            yield return $"MeanThreshold must be in (0, 1] (was {MeanThreshold}).";
        if (!(DiversityThreshold >= 0 && DiversityThreshold < 1))
            yield return $"DiversityThreshold must be in [0, 1) (was {DiversityThreshold}).";
    }

    private sealed class Detector(double meanThreshold, double diversityThreshold) : ILayerDetector
    {
        public DetectorVerdict Observe(LayerMeasurement measurement)
        {
            var stats = measurement.Stats;
            if (stats.AbsMean < meanThreshold && stats.SignDiversity > diversityThreshold)
                return DetectorVerdict.Normal;
            return DetectorVerdict.Anomalous(string.Create(
                CultureInfo.InvariantCulture,
                $"|mean SA| {stats.AbsMean:0.000} (threshold {meanThreshold:0.000}); sign diversity {stats.SignDiversity:0.000} (threshold {diversityThreshold:0.000})"));
        }
    }
}
