namespace SpectralAlign.Detection;

/// <summary>
/// Baseline detector: the layer's stable rank ‖W‖²_F/σ1² fell by <see cref="DetectionRule.Threshold"/>× (default
/// <c>1.5</c>) or more within <see cref="WindowSteps"/> steps — the weight concentrating on its top direction (the
/// signal of the stable-rank-collapse literature).
/// </summary>
public sealed class StableRankDropRule : LayerRule
{
    /// <summary>Creates the rule with reason <see cref="AlertReasons.StableRankDrop"/> and threshold <c>1.5</c>
    /// (a drop factor).</summary>
    public StableRankDropRule()
        : base(AlertReasons.StableRankDrop, 1.5)
    {
    }

    /// <summary>How far back the comparison looks, in training steps. Default <c>200</c>.</summary>
    public int WindowSteps { get; init; } = 200;

    /// <inheritdoc />
    protected internal override RuleScorer<LayerMeasurement> CreateScorer(string layer) =>
        new WindowedRatioScorer<LayerMeasurement>(WindowSteps, "stable rank", inverted: true, m => m.StableRank);

    /// <inheritdoc />
    protected internal override IEnumerable<string> Validate() => base.Validate().Concat(WindowedRatioScorer.Validate(WindowSteps));
}
