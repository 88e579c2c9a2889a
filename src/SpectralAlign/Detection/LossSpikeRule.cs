namespace SpectralAlign.Detection;

/// <summary>Baseline detector: the training loss is <see cref="ScoredRunRule.Threshold"/> (default 6) standard
/// deviations above its mean over the previous <see cref="SpikeRule.WindowSteps"/> steps (default 100). Needs the loss
/// in <see cref="TrainingSignals"/>.</summary>
public sealed class LossSpikeRule : SpikeRule
{
    /// <inheritdoc />
    public override string Reason => AlertReasons.LossSpike;

    /// <inheritdoc />
    protected override string SignalName => "loss";

    /// <inheritdoc />
    protected override double? Read(TrainingSignals signals) => signals.Loss;
}
