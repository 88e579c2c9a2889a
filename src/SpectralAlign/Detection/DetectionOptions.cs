namespace SpectralAlign.Detection;

/// <summary>
/// How measurements become alerts: which rules run, how long the warm-up is, how many consecutive anomalous
/// measurements make an episode, and an optional calibration. Part of <see cref="SpectralMonitorOptions"/>; also used
/// by an offline <see cref="CollapseDetector"/> and by <see cref="DetectionCalibrator"/>.
/// </summary>
public sealed class DetectionOptions
{
    /// <summary>Training steps at the start during which nothing is judged (the network is still far from its working
    /// regime, and optimizers overshoot). Counted in steps, so it does not depend on the interval. Default
    /// <c>100</c>.</summary>
    public int WarmupSteps { get; set; } = 100;

    /// <summary>Consecutive anomalous verdicts needed to raise an alert (measurements for layer rules, steps with
    /// signals for run rules), for rules without their own <see cref="DetectionRule.Persistence"/>. Default
    /// <c>5</c> (50 steps at the default interval).</summary>
    public int ConsecutiveMeasurements { get; set; } = 5;

    /// <summary>Consecutive normal verdicts after which an alerted rule re-arms for a new episode. Default
    /// <c>5</c>.</summary>
    public int RecoveryMeasurements { get; set; } = 5;

    /// <summary>Minimum number of valid rows a measurement needs to be judged. Default <c>16</c>.</summary>
    public int MinSamples { get; set; } = 16;

    /// <summary>The rules to run: <see cref="LayerRule"/>s judge every layer, <see cref="CrossLayerRule"/>s groups of
    /// layers measured together, <see cref="RunRule"/>s the run's <see cref="TrainingSignals"/>. Default: one
    /// <see cref="BaselineRelativeRule"/> at threshold <c>2</c> (twice its own default): the evaluation by horizon
    /// (samples/SpectralAlign.Scenarios/HORIZON.md) found no rule that warns ahead of the explosions within the
    /// false-alarm budget, so the default is the one that stays silent on every healthy run there. Others: <see cref="AbsoluteSignCollapseRule"/> (the paper's thresholds),
    /// <see cref="RollingBaselineRule"/>, <see cref="AlignedGrowthRule"/> and <see cref="AlignedAccelerationRule"/>
    /// (Theorem 1), <see cref="AlignmentTrendRule"/>, <see cref="CenteredSignCollapseRule"/> (centred SA),
    /// <see cref="UpdateRatioRule"/>, <see cref="JacobianAlignmentRule"/>, the cross-layer <see cref="AttentionLogitBoundRule"/> and
    /// <see cref="AttentionLogitGrowthRule"/>, the baselines <see cref="SpectralNormGrowthRule"/>,
    /// <see cref="StableRankDropRule"/>, <see cref="MaxActivationGrowthRule"/>, and the run rules
    /// <see cref="LossSpikeRule"/>, <see cref="GradientNormSpikeRule"/> and <see cref="GradientNormEmaRule"/>.</summary>
    public IList<DetectionRule> Rules { get; set; } = new List<DetectionRule> { new BaselineRelativeRule { Threshold = 2 } };

    /// <summary>Per-layer thresholds fitted on healthy reference runs (<see cref="DetectionCalibrator"/>); they
    /// replace the <see cref="DetectionRule.Threshold"/> of the rules and layers they cover. Default <c>null</c> (no calibration).</summary>
    public DetectionCalibration? Calibration { get; set; }

    /// <summary>Lists every problem with these options; empty when they are valid.</summary>
    /// <returns>The problems, one sentence each.</returns>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (WarmupSteps < 0)
            problems.Add($"Detection.WarmupSteps must be >= 0 (was {WarmupSteps}).");
        if (ConsecutiveMeasurements < 1)
            problems.Add($"Detection.ConsecutiveMeasurements must be >= 1 (was {ConsecutiveMeasurements}).");
        if (RecoveryMeasurements < 1)
            problems.Add($"Detection.RecoveryMeasurements must be >= 1 (was {RecoveryMeasurements}).");
        if (MinSamples < 1)
            problems.Add($"Detection.MinSamples must be >= 1 (was {MinSamples}).");
        if (Rules is null)
        {
            problems.Add("Detection.Rules must not be null (use an empty list for no rules).");
            return problems;
        }

        var reasons = new HashSet<string>(StringComparer.Ordinal) { AlertReasons.NonFinite };
        for (int i = 0; i < Rules.Count; i++)
        {
            var rule = Rules[i];
            if (rule is null)
            {
                problems.Add($"Detection.Rules[{i}] is null.");
                continue;
            }

            string name = rule.GetType().Name;
            problems.AddRange(rule.Validate().Select(p => $"Detection.Rules[{i}] ({name}): {p}"));
            if (!string.IsNullOrWhiteSpace(rule.Reason) && !reasons.Add(rule.Reason))
                problems.Add($"Detection.Rules[{i}] ({name}) reuses the reason '{rule.Reason}'; give each rule a distinct Reason.");
        }

        return problems;
    }

    /// <summary>A copy whose rule list is independent of this one (the rules and the calibration themselves are
    /// shared: both are immutable).</summary>
    /// <returns>The copy.</returns>
    public DetectionOptions Clone() => new()
    {
        WarmupSteps = WarmupSteps,
        ConsecutiveMeasurements = ConsecutiveMeasurements,
        RecoveryMeasurements = RecoveryMeasurements,
        MinSamples = MinSamples,
        Rules = Rules is null ? null! : new List<DetectionRule>(Rules),
        Calibration = Calibration,
    };
}
