namespace SpectralAlign.Detection;

/// <summary>
/// Baseline detector, OLMo's single-step spike check of the training loss (see <see cref="SpikeRule"/>): the loss is
/// <see cref="DetectionRule.Threshold"/> (default <c>6</c>) standard deviations above its mean over the previous
/// <see cref="SpikeRule.WindowSteps"/> steps (default <c>128</c>); a non-finite loss scores +∞. Needs the loss in
/// <see cref="TrainingSignals"/>.
/// </summary>
public sealed class LossSpikeRule : SpikeRule
{
    /// <summary>Creates the rule with reason <see cref="AlertReasons.LossSpike"/>, threshold <c>6</c> (σ) and
    /// persistence <c>1</c>.</summary>
    public LossSpikeRule()
        : base(AlertReasons.LossSpike)
    {
    }

    /// <inheritdoc />
    protected internal override RuleScorer<TrainingSignals> CreateScorer() => new SpikeScorer(Settings, Threshold, "loss", s => s.Loss);
}
