namespace SpectralAlign.Detection;

/// <summary>
/// Baseline detector: the layer's spectral norm σ1 grew by <see cref="DetectionRule.Threshold"/>× (default
/// <c>1.5</c>) or more within <see cref="WindowSteps"/> steps. The paper's Theorem 1 makes σ1 growth the consequence
/// of pathological alignment; on its own it also rises in healthy training.
/// </summary>
public sealed class SpectralNormGrowthRule : LayerRule
{
    /// <summary>Creates the rule with reason <see cref="AlertReasons.SpectralNormGrowth"/> and threshold <c>1.5</c>
    /// (a growth factor).</summary>
    public SpectralNormGrowthRule()
        : base(AlertReasons.SpectralNormGrowth, 1.5)
    {
    }

    /// <summary>How far back the comparison looks, in training steps. Default <c>200</c>.</summary>
    public int WindowSteps { get; init; } = 200;

    /// <inheritdoc />
    protected internal override RuleScorer<LayerMeasurement> CreateScorer(string layer) =>
        new WindowedRatioScorer<LayerMeasurement>(WindowSteps, "σ1", inverted: false, m => m.SpectralNorm);

    /// <inheritdoc />
    protected internal override IEnumerable<string> Validate() => base.Validate().Concat(WindowedRatioScorer.Validate(WindowSteps));
}
