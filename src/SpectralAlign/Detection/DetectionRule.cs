namespace SpectralAlign.Detection;

/// <summary>
/// What every detection rule has: the reason its alerts carry, the score at or above which an observation is
/// anomalous, and how many anomalous observations in a row raise an alert. A rule only produces scores (through the
/// scorers it creates); <see cref="CollapseDetector"/> owns thresholds, calibration overrides, warm-up, episodes,
/// the persistence of scorer state and the isolation of exceptions. Derive from <see cref="LayerRule"/> (one layer's
/// series), <see cref="CrossLayerRule"/> (groups of layers measured at the same step) or <see cref="RunRule"/> (the
/// run's <see cref="TrainingSignals"/>).
/// </summary>
/// <remarks>
/// Rules are immutable: their settings are <c>init</c>-only, so a rule object shared by several
/// <see cref="DetectionOptions"/>, monitors or offline detectors cannot change under a running one. The same rule
/// type can run twice with different settings when each instance has its own <see cref="Reason"/>. Settings are
/// validated when a detector or monitor is built (<see cref="DetectionOptions.Validate"/>), every problem listed at
/// once.
/// </remarks>
public abstract class DetectionRule
{
    /// <summary>Sets the rule's default reason and threshold. Derive from <see cref="LayerRule"/>,
    /// <see cref="CrossLayerRule"/> or <see cref="RunRule"/>: the detector runs only those.</summary>
    /// <param name="reason">The default <see cref="Reason"/>.</param>
    /// <param name="threshold">The default <see cref="Threshold"/>.</param>
    protected DetectionRule(string reason, double threshold)
    {
        Reason = reason;
        Threshold = threshold;
    }

    /// <summary>The <see cref="CollapseAlert.Reason"/> of this rule's alerts; distinct per rule of a
    /// <see cref="DetectionOptions"/>, and the key of its calibrated thresholds and saved state. Default: the rule's
    /// constant in <see cref="AlertReasons"/>.</summary>
    public string Reason { get; init; }

    /// <summary>The score at or above which an observation is anomalous, where no calibrated threshold applies
    /// (<see cref="DetectionOptions.Calibration"/>). Each rule documents its default.</summary>
    public double Threshold { get; init; }

    /// <summary>Consecutive anomalous observations of this rule that raise an alert; <c>null</c> uses
    /// <see cref="DetectionOptions.ConsecutiveMeasurements"/>. Default <c>null</c> unless the rule documents
    /// otherwise (the single-step spike checks use 1).</summary>
    public int? Persistence { get; init; }

    /// <summary>Lists every problem with this rule's settings. Overrides yield the base problems first.</summary>
    /// <returns>The problems, one sentence each; empty when the settings are valid.</returns>
    protected internal virtual IEnumerable<string> Validate()
    {
        if (string.IsNullOrWhiteSpace(Reason))
            yield return "Reason must not be empty.";
        if (double.IsNaN(Threshold))
            yield return "Threshold must be a number.";
        if (Persistence is < 1)
            yield return $"Persistence must be >= 1 or null (was {Persistence}).";
        if (this is not (LayerRule or CrossLayerRule or RunRule))
            yield return "A rule must derive from LayerRule, CrossLayerRule or RunRule.";
    }
}
