using System.Globalization;

namespace SpectralAlign.Detection;

/// <summary>
/// The paper's one-sidedness test on the <em>centred</em> alignment cos(hᵢ − h̄, v1)
/// (<see cref="LayerMeasurement.CenteredStats"/>): a measurement scores
/// max(|mean| / <see cref="MeanThreshold"/>, (1 − D) / (1 − <see cref="DiversityThreshold"/>)) over the centred
/// distribution, anomalous at ≥ 1 (the default threshold).
/// </summary>
/// <remarks>
/// <para>
/// In healthy layers a one-sided SA distribution is mostly the batch-mean input lying along v1
/// (|<see cref="LayerMeasurement.InputMeanAlignment"/>| 0.7–0.95 in the scenario suite), which is why the paper's
/// absolute thresholds alarm on healthy query projections, FFN gates and post-ReLU layers. Removing the mean leaves
/// the alignment of the rows' variation with v1, which such layers do not share.
/// </para>
/// <para>
/// The centred projections (hᵢ − h̄)·v1 sum to zero, so the centred distribution is one-sided only through skew: a
/// minority of rows far out along one direction of v1 and the majority slightly on the other side (cosines are
/// normalised per row, so their mean need not vanish). A high score therefore flags a few outlying rows driving the
/// layer's top direction, not a uniform drift. A measurement without centred statistics
/// (<see cref="SpectralAlignmentStats.Count"/> 0, e.g. recorded before the engine measured them) or with a
/// non-finite one is not judged.
/// </para>
/// </remarks>
public sealed class CenteredSignCollapseRule : LayerRule
{
    /// <summary>Creates the rule with reason <see cref="AlertReasons.CenteredSignCollapse"/> and threshold
    /// <c>1</c>.</summary>
    public CenteredSignCollapseRule()
        : base(AlertReasons.CenteredSignCollapse, 1)
    {
    }

    /// <summary>|mean| of the centred alignment at or above which a measurement is anomalous. Default
    /// <c>0.2</c>.</summary>
    public double MeanThreshold { get; init; } = 0.2;

    /// <summary>Sign diversity of the centred alignment at or below which a measurement is anomalous. Default
    /// <c>0.1</c>.</summary>
    public double DiversityThreshold { get; init; } = 0.1;

    /// <inheritdoc />
    protected internal override RuleScorer<LayerMeasurement> CreateScorer(string layer) => new Scorer(this);

    /// <inheritdoc />
    protected internal override IEnumerable<string> Validate() =>
        base.Validate().Concat(OneSidedness.Validate(MeanThreshold, DiversityThreshold));

    private sealed class Scorer(CenteredSignCollapseRule rule) : RuleScorer<LayerMeasurement>
    {
        public override double? Score(long step, LayerMeasurement input) =>
            input.CenteredStats.Count == 0 ? null : OneSidedness.Score(input.CenteredStats, rule.MeanThreshold, rule.DiversityThreshold);

        public override string Describe(long step, LayerMeasurement input, double score, double threshold) => string.Create(
            CultureInfo.InvariantCulture,
            $"centred alignment one-sided: |mean| {input.CenteredStats.AbsMean:0.000} (threshold {rule.MeanThreshold * threshold:0.000}), sign diversity {input.CenteredStats.SignDiversity:0.000}; uncentred |mean SA| {input.Stats.AbsMean:0.000}; score {score:0.00}");
    }
}
