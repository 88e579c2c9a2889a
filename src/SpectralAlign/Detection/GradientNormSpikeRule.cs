namespace SpectralAlign.Detection;

/// <summary>
/// Baseline detector, OLMo's single-step spike check of the global gradient norm (see <see cref="SpikeRule"/>): the
/// gradient norm is <see cref="DetectionRule.Threshold"/> (default <c>6</c>) standard deviations above its mean over
/// the previous <see cref="SpikeRule.WindowSteps"/> steps (default <c>128</c>). Needs the gradient norm in
/// <see cref="TrainingSignals"/>.
/// </summary>
public sealed class GradientNormSpikeRule : SpikeRule
{
    /// <summary>Creates the rule with reason <see cref="AlertReasons.GradientNormSpike"/>, threshold <c>6</c> (σ) and
    /// persistence <c>1</c>.</summary>
    public GradientNormSpikeRule()
        : base(AlertReasons.GradientNormSpike)
    {
    }

    /// <inheritdoc />
    protected internal override RuleScorer<TrainingSignals> CreateScorer() => new SpikeScorer(Settings, Threshold, "gradient norm", s => s.GradientNorm);
}
