namespace SpectralAlign.Detection;

/// <summary>
/// A rule that judges groups of layers measured at the same step — e.g. an attention block's query and key
/// projections. At every measured step after the warm-up it receives all of the step's usable measurements
/// (<see cref="CollapseDetector.ObserveStep"/>), forms its groups, and each group (by its name, the alert's
/// <see cref="CollapseAlert.Layer"/>) has its own scorer, threshold and episodes.
/// </summary>
public abstract class CrossLayerRule : DetectionRule
{
    /// <summary>Sets the rule's default reason and threshold (both can be overridden with <c>init</c>).</summary>
    /// <param name="reason">The default <see cref="DetectionRule.Reason"/>.</param>
    /// <param name="threshold">The default <see cref="DetectionRule.Threshold"/>.</param>
    protected CrossLayerRule(string reason, double threshold)
        : base(reason, threshold)
    {
    }

    /// <summary>Forms the groups this rule judges from one step's usable measurements. A group whose members are not
    /// all present at this step should be left out.</summary>
    /// <param name="measurements">The step's usable measurements, in the order the layers were watched.</param>
    /// <returns>Each group's name and its members' measurements.</returns>
    protected internal abstract IEnumerable<(string Group, IReadOnlyList<LayerMeasurement> Members)> Group(IReadOnlyList<LayerMeasurement> measurements);

    /// <summary>Creates the scoring state of this rule for one group.</summary>
    /// <param name="group">The group's name.</param>
    /// <returns>A new scorer.</returns>
    protected internal abstract RuleScorer<IReadOnlyList<LayerMeasurement>> CreateScorer(string group);
}
