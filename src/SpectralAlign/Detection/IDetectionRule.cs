namespace SpectralAlign.Detection;

/// <summary>
/// A pluggable collapse-detection rule: a factory of per-layer detectors plus the reason string its alerts carry.
/// The same rule runs online inside <see cref="SpectralMonitor"/> and offline in a <see cref="CollapseDetector"/>
/// fed with recorded measurements. Rules themselves must be stateless (all state lives in the detectors), so one
/// instance can serve many layers and many monitors.
/// </summary>
public interface IDetectionRule
{
    /// <summary>The <see cref="CollapseAlert.Reason"/> of this rule's alerts; distinct per rule.</summary>
    string Reason { get; }

    /// <summary>Creates the state of this rule for one layer.</summary>
    /// <param name="layer">The layer's name.</param>
    /// <returns>A new detector.</returns>
    ILayerDetector CreateDetector(string layer);

    /// <summary>Lists every problem with this rule's settings; empty when they are valid.</summary>
    /// <returns>The problems, one sentence each.</returns>
    IEnumerable<string> Validate() => [];
}
