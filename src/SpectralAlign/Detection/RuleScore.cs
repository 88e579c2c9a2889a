namespace SpectralAlign.Detection;

/// <summary>One score a rule gave, as <see cref="CollapseDetector.LastScores"/> lists it: for evaluation (ROC
/// curves, lead times) and calibration.</summary>
/// <param name="Reason">The rule's <see cref="DetectionRule.Reason"/>.</param>
/// <param name="Subject">The layer, the group of a <see cref="CrossLayerRule"/>, or <see cref="CollapseAlert.RunLayer"/>.</param>
/// <param name="Step">The training step.</param>
/// <param name="Score">The score.</param>
/// <param name="Threshold">The threshold it was compared with (the rule's or a calibrated one).</param>
public readonly record struct RuleScore(string Reason, string Subject, long Step, double Score, double Threshold)
{
    /// <summary>Whether the score reached the threshold.</summary>
    public bool Anomalous => Score >= Threshold;
}
