namespace SpectralAlign.Scenarios.Evaluation;

/// <summary>
/// The detectors the <c>horizon</c> command evaluates: the one list to extend. The library's rules plug in through a
/// single adapter that turns a rule configuration into <see cref="DetectorSetting"/>s (replay the run, return the
/// rule's score per step and, if it should be judged by its own alerts, its alarm series).
/// </summary>
public static class HorizonCatalog
{
    /// <summary>Every detector, in report order.</summary>
    public static IReadOnlyList<HorizonDetector> All { get; } = [.. RecordedScores.Detectors, .. LibraryRules.Detectors];
}
