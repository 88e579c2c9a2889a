using System.Globalization;

namespace SpectralAlign.Detection;

/// <summary>
/// The paper's rule with fixed thresholds: a measurement is anomalous when |mean SA| ≥ <see cref="MeanThreshold"/>
/// or the sign diversity ≤ <see cref="DiversityThreshold"/>. Its score is
/// max(|mean SA| / MeanThreshold, (1 − D) / (1 − DiversityThreshold)), anomalous at ≥ 1.
/// </summary>
/// <remarks>
/// Qiu et al. (2025) report healthy layers centred on zero and collapsing layers drifting to |mean SA| ≈ 0.2 and
/// beyond. Measured on small CPU-trained models, several healthy layers (query projections, FFN gates, LM heads,
/// post-ReLU inputs) sit beyond these thresholds for the whole run, so this rule raises false alarms there; it is
/// offered for comparison and for models where it is known to fit. The default rule is
/// <see cref="BaselineRelativeRule"/>.
/// </remarks>
public sealed class AbsoluteSignCollapseRule : ScoredLayerRule
{
    /// <summary>|mean SA| at or above which a measurement is anomalous. Default <c>0.2</c>.</summary>
    public double MeanThreshold { get; set; } = 0.2;

    /// <summary>Sign diversity at or below which a measurement is anomalous (0.1 means at most 5% of the values
    /// have the minority sign). Default <c>0.1</c>.</summary>
    public double DiversityThreshold { get; set; } = 0.1;

    /// <summary>Score at or above which a measurement is anomalous. Default <c>1</c>.</summary>
    public override double Threshold { get; set; } = 1;

    /// <inheritdoc />
    public override string Reason => AlertReasons.AbsoluteSignCollapse;

    /// <inheritdoc />
    public override ILayerScorer CreateScorer(string layer) => new Scorer(MeanThreshold, DiversityThreshold);

    /// <inheritdoc />
    public override IEnumerable<string> Validate()
    {
        foreach (var problem in base.Validate())
            yield return problem;
        if (!(MeanThreshold > 0 && MeanThreshold <= 1))
            yield return $"MeanThreshold must be in (0, 1] (was {MeanThreshold}).";
        if (!(DiversityThreshold >= 0 && DiversityThreshold < 1))
            yield return $"DiversityThreshold must be in [0, 1) (was {DiversityThreshold}).";
    }

    /// <summary>The one-sidedness score of a distribution: ≥ 1 when |mean| ≥ <paramref name="meanThreshold"/> or
    /// D ≤ <paramref name="diversityThreshold"/>.</summary>
    internal static double OneSidedness(SpectralAlignmentStats stats, double meanThreshold, double diversityThreshold) =>
        Math.Max(stats.AbsMean / meanThreshold, (1 - stats.SignDiversity) / (1 - diversityThreshold));

    private sealed class Scorer(double meanThreshold, double diversityThreshold) : ILayerScorer
    {
        public double? Score(LayerMeasurement measurement) => OneSidedness(measurement.Stats, meanThreshold, diversityThreshold);

        public string Describe(LayerMeasurement measurement, double score, double threshold)
        {
            double diversityAt = 1 - threshold * (1 - diversityThreshold);
            return string.Create(
                CultureInfo.InvariantCulture,
                $"|mean SA| {measurement.Stats.AbsMean:0.000} (threshold {meanThreshold * threshold:0.000}); sign diversity {measurement.Stats.SignDiversity:0.000} ({(diversityAt >= 0 ? string.Create(CultureInfo.InvariantCulture, $"threshold {diversityAt:0.000}") : "not a criterion for this layer")})");
        }
    }
}
