namespace SpectralAlign.Detection;

/// <summary>
/// A rule that judges the run's per-step <see cref="TrainingSignals"/> (loss, gradient norm), passed to
/// <see cref="SpectralMonitor.Step(TrainingSignals)"/> or to <see cref="CollapseDetector.ObserveSignals"/>. It has one
/// scorer per run; its alerts carry the layer name <see cref="CollapseAlert.RunLayer"/>.
/// </summary>
public abstract class RunRule : DetectionRule
{
    /// <summary>Sets the rule's default reason and threshold (both can be overridden with <c>init</c>).</summary>
    /// <param name="reason">The default <see cref="DetectionRule.Reason"/>.</param>
    /// <param name="threshold">The default <see cref="DetectionRule.Threshold"/>.</param>
    protected RunRule(string reason, double threshold)
        : base(reason, threshold)
    {
    }

    /// <summary>Creates the rule's scoring state for one run. Its scorer receives every step after the warm-up that
    /// has signals, in step order, and returns <c>null</c> when the signal it needs is missing.</summary>
    /// <returns>A new scorer.</returns>
    protected internal abstract RuleScorer<TrainingSignals> CreateScorer();
}
