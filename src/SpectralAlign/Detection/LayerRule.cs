namespace SpectralAlign.Detection;

/// <summary>
/// A rule that judges each layer's own series of measurements: it creates one <see cref="RuleScorer{TInput}"/> per
/// layer, which receives that layer's usable measurements in step order (after the warm-up; only those with at least
/// <see cref="DetectionOptions.MinSamples"/> valid rows, an input and a finite, non-zero weight).
/// </summary>
/// <example>
/// <code>
/// public sealed class WideSpreadRule() : LayerRule("WideSpread", threshold: 0.5)
/// {
///     protected override RuleScorer&lt;LayerMeasurement&gt; CreateScorer(string layer) =&gt; new Scorer();
///
///     private sealed class Scorer : RuleScorer&lt;LayerMeasurement&gt;
///     {
///         public override double? Score(long step, LayerMeasurement m) =&gt; m.Stats.StdDev;
///     }
/// }
/// </code>
/// </example>
public abstract class LayerRule : DetectionRule
{
    /// <summary>Sets the rule's default reason and threshold (both can be overridden with <c>init</c>).</summary>
    /// <param name="reason">The default <see cref="DetectionRule.Reason"/>.</param>
    /// <param name="threshold">The default <see cref="DetectionRule.Threshold"/>.</param>
    protected LayerRule(string reason, double threshold)
        : base(reason, threshold)
    {
    }

    /// <summary>Creates the scoring state of this rule for one layer (online, offline and in calibration).</summary>
    /// <param name="layer">The layer's name.</param>
    /// <returns>A new scorer.</returns>
    protected internal abstract RuleScorer<LayerMeasurement> CreateScorer(string layer);
}
