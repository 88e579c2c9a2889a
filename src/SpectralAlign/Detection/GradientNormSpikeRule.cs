namespace SpectralAlign.Detection;

/// <summary>Baseline detector (OLMo's spike check): the global gradient norm is
/// <see cref="ScoredRunRule.Threshold"/> (default 6) standard deviations above its mean over the previous
/// <see cref="SpikeRule.WindowSteps"/> steps (default 100). Needs the gradient norm in
/// <see cref="TrainingSignals"/>.</summary>
public sealed class GradientNormSpikeRule : SpikeRule
{
    /// <inheritdoc />
    public override string Reason => AlertReasons.GradientNormSpike;

    /// <inheritdoc />
    protected override string SignalName => "gradient norm";

    /// <inheritdoc />
    protected override double? Read(TrainingSignals signals) => signals.GradientNorm;
}
