namespace SpectralAlign.Detection;

/// <summary>
/// How measurements become alerts: which rules run, how long the warm-up is, and how many consecutive anomalous
/// measurements make an episode. Part of <see cref="SpectralMonitorOptions"/>; also used by an offline
/// <see cref="CollapseDetector"/>.
/// </summary>
public sealed class DetectionOptions
{
    /// <summary>Usable measurements per layer that are ignored at the start of training, while the network is still
    /// far from its working regime. Default <c>20</c> (200 steps at the default interval).</summary>
    public int WarmupMeasurements { get; set; } = 20;

    /// <summary>Consecutive anomalous measurements needed to raise an alert. Default <c>3</c>.</summary>
    public int ConsecutiveMeasurements { get; set; } = 3;

    /// <summary>Consecutive normal measurements after which an alerted rule re-arms for a new episode.
    /// Default <c>5</c>.</summary>
    public int RecoveryMeasurements { get; set; } = 5;

    /// <summary>Minimum number of valid rows a measurement needs to be judged. Default <c>16</c>.</summary>
    public int MinSamples { get; set; } = 16;

    /// <summary>The rules to run on every layer. Default: one <see cref="BaselineRelativeRule"/>. Add an
    /// <see cref="AbsoluteSignCollapseRule"/> for the paper's fixed thresholds.</summary>
    public IList<IDetectionRule> Rules { get; set; } = new List<IDetectionRule> { new BaselineRelativeRule() };

    /// <summary>Lists every problem with these options; empty when they are valid.</summary>
    /// <returns>The problems, one sentence each.</returns>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (WarmupMeasurements < 0)
            problems.Add($"Detection.WarmupMeasurements must be >= 0 (was {WarmupMeasurements}).");
        if (ConsecutiveMeasurements < 1)
            problems.Add($"Detection.ConsecutiveMeasurements must be >= 1 (was {ConsecutiveMeasurements}).");
        if (RecoveryMeasurements < 1)
            problems.Add($"Detection.RecoveryMeasurements must be >= 1 (was {RecoveryMeasurements}).");
        if (MinSamples < 1)
            problems.Add($"Detection.MinSamples must be >= 1 (was {MinSamples}).");
        if (Rules is null)
        {
            problems.Add("Detection.Rules must not be null (use an empty list to disable collapse rules).");
            return problems;
        }

        var reasons = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < Rules.Count; i++)
        {
            var rule = Rules[i];
            if (rule is null)
            {
                problems.Add($"Detection.Rules[{i}] is null.");
                continue;
            }

            if (string.IsNullOrWhiteSpace(rule.Reason))
                problems.Add($"Detection.Rules[{i}] ({rule.GetType().Name}) has an empty Reason.");
            else if (rule.Reason == AlertReasons.NonFinite || !reasons.Add(rule.Reason))
                problems.Add($"Detection.Rules[{i}] ({rule.GetType().Name}) reuses the reason '{rule.Reason}'; each rule needs a distinct reason.");
            problems.AddRange(rule.Validate().Select(p => $"Detection.Rules[{i}] ({rule.GetType().Name}): {p}"));
        }

        return problems;
    }

    /// <summary>A copy whose rule list is independent of this one (the rules themselves are shared).</summary>
    /// <returns>The copy.</returns>
    public DetectionOptions Clone() => new()
    {
        WarmupMeasurements = WarmupMeasurements,
        ConsecutiveMeasurements = ConsecutiveMeasurements,
        RecoveryMeasurements = RecoveryMeasurements,
        MinSamples = MinSamples,
        Rules = Rules is null ? null! : new List<IDetectionRule>(Rules),
    };
}
