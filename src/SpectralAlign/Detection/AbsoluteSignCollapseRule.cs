using System.Globalization;

namespace SpectralAlign.Detection;

/// <summary>
/// The paper's rule with fixed thresholds: a measurement is anomalous when |mean SA| ≥ <see cref="MeanThreshold"/>
/// or the sign diversity ≤ <see cref="DiversityThreshold"/>. Its score is
/// max(|mean SA| / MeanThreshold, (1 − D) / (1 − DiversityThreshold)), anomalous at ≥ 1 (the default threshold).
/// </summary>
/// <remarks>
/// Qiu et al. (2025) report healthy layers centred on zero and collapsing layers drifting to |mean SA| ≈ 0.2 and
/// beyond. Measured on small CPU-trained models, several healthy layers (query projections, FFN gates, LM heads,
/// post-ReLU inputs) sit beyond these thresholds for the whole run, so this rule raises false alarms there; it is
/// offered for comparison, for calibration, and for models where it is known to fit. The default rule is
/// <see cref="BaselineRelativeRule"/>.
/// </remarks>
public sealed class AbsoluteSignCollapseRule : LayerRule
{
    /// <summary>Creates the rule with reason <see cref="AlertReasons.AbsoluteSignCollapse"/> and threshold
    /// <c>1</c>.</summary>
    public AbsoluteSignCollapseRule()
        : base(AlertReasons.AbsoluteSignCollapse, 1)
    {
    }

    /// <summary>|mean SA| at or above which a measurement is anomalous. Default <c>0.2</c>.</summary>
    public double MeanThreshold { get; init; } = 0.2;

    /// <summary>Sign diversity at or below which a measurement is anomalous (0.1 means at most 5% of the values
    /// have the minority sign). Default <c>0.1</c>.</summary>
    public double DiversityThreshold { get; init; } = 0.1;

    /// <inheritdoc />
    protected internal override RuleScorer<LayerMeasurement> CreateScorer(string layer) => new Scorer(this);

    /// <inheritdoc />
    protected internal override IEnumerable<string> Validate() =>
        base.Validate().Concat(OneSidedness.Validate(MeanThreshold, DiversityThreshold));

    private sealed class Scorer(AbsoluteSignCollapseRule rule) : RuleScorer<LayerMeasurement>
    {
        public override double? Score(long step, LayerMeasurement input) => OneSidedness.Score(input.Stats, rule.MeanThreshold, rule.DiversityThreshold);

        public override string Describe(long step, LayerMeasurement input, double score, double threshold)
        {
            double diversityAt = 1 - threshold * (1 - rule.DiversityThreshold);
            string diversity = diversityAt >= 0
                ? string.Create(CultureInfo.InvariantCulture, $"threshold {diversityAt:0.000}")
                : "not a criterion for this layer";
            return string.Create(
                CultureInfo.InvariantCulture,
                $"|mean SA| {input.Stats.AbsMean:0.000} (threshold {rule.MeanThreshold * threshold:0.000}); sign diversity {input.Stats.SignDiversity:0.000} ({diversity})");
        }
    }
}
