namespace SpectralAlign.Detection;

/// <summary>
/// The growth rate of each attention block's logit bound B (see <see cref="AttentionLogitRule"/>): the score is
/// B(t) / B(t − <see cref="WindowSteps"/>), anomalous at ≥ 2 (the default threshold: the bound doubled within the
/// window). Independent of the bound's level and of <see cref="AttentionLogitRule.HeadDimension"/>. B(t − W) is the
/// latest bound at or before that step; the rule is warming until the block's history reaches back that far, and a
/// bound that is not finite and positive is not judged.
/// </summary>
public sealed class AttentionLogitGrowthRule : AttentionLogitRule
{
    /// <summary>Creates the rule with reason <see cref="AlertReasons.AttentionLogitGrowth"/> and threshold <c>2</c>
    /// (a growth factor).</summary>
    public AttentionLogitGrowthRule()
        : base(AlertReasons.AttentionLogitGrowth, 2)
    {
    }

    /// <summary>How far back the comparison looks, in training steps. Default <c>200</c>.</summary>
    public int WindowSteps { get; init; } = 200;

    /// <inheritdoc />
    protected internal override RuleScorer<IReadOnlyList<LayerMeasurement>> CreateScorer(string group) =>
        new WindowedRatioScorer<IReadOnlyList<LayerMeasurement>>(WindowSteps, "attention-logit bound", inverted: false, Bound);

    /// <inheritdoc />
    protected internal override IEnumerable<string> Validate() => base.Validate().Concat(WindowedRatioScorer.Validate(WindowSteps));
}
