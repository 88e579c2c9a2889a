namespace SpectralAlign.Detection;

/// <summary>
/// Baseline detector: the largest absolute input activation of the layer grew by
/// <see cref="DetectionRule.Threshold"/>× (default <c>2</c>) or more within <see cref="WindowSteps"/> steps.
/// </summary>
public sealed class MaxActivationGrowthRule : LayerRule
{
    /// <summary>Creates the rule with reason <see cref="AlertReasons.MaxActivationGrowth"/> and threshold <c>2</c>
    /// (a growth factor).</summary>
    public MaxActivationGrowthRule()
        : base(AlertReasons.MaxActivationGrowth, 2)
    {
    }

    /// <summary>How far back the comparison looks, in training steps. Default <c>200</c>.</summary>
    public int WindowSteps { get; init; } = 200;

    /// <inheritdoc />
    protected internal override RuleScorer<LayerMeasurement> CreateScorer(string layer) =>
        new WindowedRatioScorer<LayerMeasurement>(WindowSteps, "max |input|", inverted: false, m => m.MaxAbsInput);

    /// <inheritdoc />
    protected internal override IEnumerable<string> Validate() => base.Validate().Concat(WindowedRatioScorer.Validate(WindowSteps));
}
