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
    /// signals for run rules). Default <c>5</c> (50 steps at the default interval).</summary>
    public int ConsecutiveMeasurements { get; set; } = 5;

    /// <summary>Consecutive normal verdicts after which an alerted rule re-arms for a new episode. Default
    /// <c>5</c>.</summary>
    public int RecoveryMeasurements { get; set; } = 5;

    /// <summary>Minimum number of valid rows a measurement needs to be judged. Default <c>16</c>.</summary>
    public int MinSamples { get; set; } = 16;

    /// <summary>The rules to run on every layer. Default: one <see cref="BaselineRelativeRule"/>. Others:
    /// <see cref="AbsoluteSignCollapseRule"/> (the paper's thresholds), <see cref="AlignedGrowthRule"/> (Theorem 1),
    /// <see cref="AlignmentTrendRule"/>, and the baselines <see cref="SpectralNormGrowthRule"/>,
    /// <see cref="StableRankDropRule"/>, <see cref="MaxActivationGrowthRule"/>.</summary>
    public IList<IDetectionRule> Rules { get; set; } = new List<IDetectionRule> { new BaselineRelativeRule() };

    /// <summary>Run-level rules, fed by <see cref="SpectralMonitor.Step(TrainingSignals)"/>: e.g.
    /// <see cref="LossSpikeRule"/>, <see cref="GradientNormSpikeRule"/>. Default: none.</summary>
    public IList<ScoredRunRule> RunRules { get; set; } = new List<ScoredRunRule>();

    /// <summary>Per-layer thresholds fitted on healthy reference runs (<see cref="DetectionCalibrator"/>); they
    /// replace the <see cref="ScoredLayerRule.Threshold"/> / <see cref="ScoredRunRule.Threshold"/> of the rules and
    /// layers they cover. Default <c>null</c> (no calibration).</summary>
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
            problems.Add("Detection.Rules must not be null (use an empty list to disable layer rules).");
        if (RunRules is null)
            problems.Add("Detection.RunRules must not be null (use an empty list for none).");
        if (Rules is null || RunRules is null)
            return problems;

        var reasons = new HashSet<string>(StringComparer.Ordinal) { AlertReasons.NonFinite };
        void Check(string kind, int i, object? rule, string? reason, IEnumerable<string> ruleProblems)
        {
            if (rule is null)
            {
                problems.Add($"Detection.{kind}[{i}] is null.");
                return;
            }

            string name = rule.GetType().Name;
            if (string.IsNullOrWhiteSpace(reason))
                problems.Add($"Detection.{kind}[{i}] ({name}) has an empty Reason.");
            else if (!reasons.Add(reason))
                problems.Add($"Detection.{kind}[{i}] ({name}) reuses the reason '{reason}'; each rule needs a distinct reason.");
            problems.AddRange(ruleProblems.Select(p => $"Detection.{kind}[{i}] ({name}): {p}"));
        }

        for (int i = 0; i < Rules.Count; i++)
            Check(nameof(Rules), i, Rules[i], Rules[i]?.Reason, Rules[i]?.Validate() ?? []);
        for (int i = 0; i < RunRules.Count; i++)
            Check(nameof(RunRules), i, RunRules[i], RunRules[i]?.Reason, RunRules[i]?.Validate() ?? []);
        return problems;
    }

    /// <summary>A copy whose rule lists are independent of this one (the rules and the calibration themselves are
    /// shared; rules are stateless and calibrations immutable).</summary>
    /// <returns>The copy.</returns>
    public DetectionOptions Clone() => new()
    {
        WarmupSteps = WarmupSteps,
        ConsecutiveMeasurements = ConsecutiveMeasurements,
        RecoveryMeasurements = RecoveryMeasurements,
        MinSamples = MinSamples,
        Rules = Rules is null ? null! : new List<IDetectionRule>(Rules),
        RunRules = RunRules is null ? null! : new List<ScoredRunRule>(RunRules),
        Calibration = Calibration,
    };
}
