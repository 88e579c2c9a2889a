using System.Globalization;
using System.Text;
using SpectralAlign.Detection;

namespace SpectralAlign.Scenarios.Analysis;

/// <summary>A detector under evaluation: a name, its family, and the detection options it runs with.</summary>
/// <param name="Name">Short name used in the table.</param>
/// <param name="Family">"SA" for spectral-alignment-based detectors, "baseline" for the usual signals.</param>
/// <param name="Options">Creates the detection options (fresh rule instances).</param>
/// <param name="Calibrated">Whether per-layer thresholds are fitted on the calibration runs of each scenario.</param>
public sealed record DetectorSpec(string Name, string Family, Func<DetectionOptions> Options, bool Calibrated);

/// <summary>How to evaluate.</summary>
public sealed record EvaluationSettings
{
    /// <summary>Measurement interval of the replay (the recorded measurements at multiples of it are used).</summary>
    public int Interval { get; init; } = 10;

    /// <summary>Seeds whose stable runs calibrate; never used for evaluation.</summary>
    public IReadOnlyList<int> CalibrationSeeds { get; init; } = [1, 2];

    /// <summary>False-alarm budget of the calibration.</summary>
    public double FalseAlarmBudget { get; init; }

    /// <summary>Relative margin of the calibration.</summary>
    public double Margin { get; init; } = 0.25;

    /// <summary>Where to write the fitted calibrations (null: not written).</summary>
    public string? CalibrationDirectory { get; init; }
}

/// <summary>What one detector did on one evaluation run.</summary>
public sealed record RunOutcome(string Scenario, string Config, int Seed, long? ExplosionStep, long? FirstAlertStep, string? FirstAlertLayer, string? FirstAlertReason)
{
    /// <summary>An alert before the explosion.</summary>
    public bool Caught => ExplosionStep is { } e && FirstAlertStep is { } a && a < e;

    /// <summary>Steps between the first alert and the explosion.</summary>
    public long? Lead => Caught ? ExplosionStep - FirstAlertStep : null;

    /// <summary>An alert in a run that did not explode.</summary>
    public bool FalseAlarm => ExplosionStep is null && FirstAlertStep is not null;
}

/// <summary>The outcome of one detector over all evaluation runs.</summary>
public sealed record DetectorResult(DetectorSpec Detector, IReadOnlyList<RunOutcome> Runs)
{
    /// <summary>Exploding runs.</summary>
    public IEnumerable<RunOutcome> Exploding => Runs.Where(r => r.ExplosionStep is not null);

    /// <summary>Stable runs.</summary>
    public IEnumerable<RunOutcome> Stable => Runs.Where(r => r.ExplosionStep is null);

    /// <summary>Fraction of exploding runs caught.</summary>
    public double CatchRate => Exploding.Any() ? (double)Exploding.Count(r => r.Caught) / Exploding.Count() : 0;

    /// <summary>Median lead over the caught runs (0 when none).</summary>
    public double MedianLead => Median(Exploding.Where(r => r.Caught).Select(r => (double)r.Lead!.Value).ToList());

    /// <summary>Stable runs with an alert.</summary>
    public int FalseAlarms => Stable.Count(r => r.FalseAlarm);

    internal static double Median(List<double> values)
    {
        if (values.Count == 0)
            return 0;
        values.Sort();
        int n = values.Count;
        return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
    }
}

/// <summary>
/// Replays recorded runs through detectors, offline, with the library's own <see cref="CollapseDetector"/> (the same
/// code as online), calibrating per-layer thresholds on stable runs of calibration seeds that are never evaluated.
/// </summary>
public static class DetectorEvaluation
{
    /// <summary>The detectors the suite evaluates: the library's default, the paper's rule, the SA ideas, and the
    /// usual baselines — each uncalibrated (defaults) and, where it has thresholds to fit, calibrated.</summary>
    public static IReadOnlyList<DetectorSpec> Catalog { get; } =
    [
        new("default options", "SA", () => new DetectionOptions(), Calibrated: false),
        new("paper absolute", "SA", () => Only(new AbsoluteSignCollapseRule()), Calibrated: false),
        new("paper absolute, calibrated", "SA", () => Only(new AbsoluteSignCollapseRule()), Calibrated: true),
        new("baseline-relative, calibrated", "SA", () => Only(new BaselineRelativeRule()), Calibrated: true),
        new("rolling baseline", "SA", () => Only(new RollingBaselineRule()), Calibrated: false),
        new("rolling baseline, calibrated", "SA", () => Only(new RollingBaselineRule()), Calibrated: true),
        new("aligned growth (Thm 1)", "SA", () => Only(new AlignedGrowthRule()), Calibrated: false),
        new("aligned growth, calibrated", "SA", () => Only(new AlignedGrowthRule()), Calibrated: true),
        new("aligned acceleration (Thm 1)", "SA", () => Only(new AlignedAccelerationRule()), Calibrated: false),
        new("aligned acceleration, calibrated", "SA", () => Only(new AlignedAccelerationRule()), Calibrated: true),
        new("alignment trend", "SA", () => Only(new AlignmentTrendRule()), Calibrated: false),
        new("alignment trend, calibrated", "SA", () => Only(new AlignmentTrendRule()), Calibrated: true),
        new("loss spike 6σ", "baseline", () => Only(new LossSpikeRule()), Calibrated: false),
        new("loss spike, calibrated", "baseline", () => Only(new LossSpikeRule()), Calibrated: true),
        new("grad-norm spike 6σ (OLMo)", "baseline", () => Only(new GradientNormSpikeRule()), Calibrated: false),
        new("grad-norm spike, calibrated", "baseline", () => Only(new GradientNormSpikeRule()), Calibrated: true),
        new("grad-norm EMA z-score (ZClip)", "baseline", () => Only(new GradientNormEmaRule()), Calibrated: false),
        new("grad-norm EMA z-score, calibrated", "baseline", () => Only(new GradientNormEmaRule()), Calibrated: true),
        new("σ1 growth", "baseline", () => Only(new SpectralNormGrowthRule()), Calibrated: false),
        new("σ1 growth, calibrated", "baseline", () => Only(new SpectralNormGrowthRule()), Calibrated: true),
        new("stable-rank drop", "baseline", () => Only(new StableRankDropRule()), Calibrated: false),
        new("stable-rank drop, calibrated", "baseline", () => Only(new StableRankDropRule()), Calibrated: true),
        new("max-activation growth", "baseline", () => Only(new MaxActivationGrowthRule()), Calibrated: false),
        new("max-activation growth, calibrated", "baseline", () => Only(new MaxActivationGrowthRule()), Calibrated: true),
    ];

    /// <summary>Evaluates detectors on recorded runs.</summary>
    /// <param name="runs">Every recorded run (all scenarios, configs and seeds).</param>
    /// <param name="detectors">The detectors.</param>
    /// <param name="settings">Interval and calibration settings.</param>
    /// <returns>One result per detector.</returns>
    public static IReadOnlyList<DetectorResult> Evaluate(IReadOnlyList<RunData> runs, IReadOnlyList<DetectorSpec> detectors, EvaluationSettings settings)
    {
        ArgumentNullException.ThrowIfNull(runs);
        ArgumentNullException.ThrowIfNull(detectors);
        ArgumentNullException.ThrowIfNull(settings);
        var calibrationSeeds = settings.CalibrationSeeds.ToHashSet();
        var evaluated = runs.Where(r => !calibrationSeeds.Contains(r.Header.Seed)).ToList();
        var results = new List<DetectorResult>();
        foreach (var detector in detectors)
        {
            var calibrations = new Dictionary<string, DetectionCalibration>(StringComparer.Ordinal);
            if (detector.Calibrated)
            {
                foreach (var scenario in runs.GroupBy(r => r.Header.Scenario))
                {
                    var reference = scenario.Where(r => r.Header.Config == "stable" && calibrationSeeds.Contains(r.Header.Seed)).ToList();
                    if (reference.Count == 0)
                        throw new ArgumentException($"No stable runs of scenario '{scenario.Key}' with calibration seeds {string.Join(",", calibrationSeeds)}.");
                    var calibration = DetectionCalibrator.Fit(
                        reference.Select(r => ToCalibrationRun(r, settings.Interval)),
                        detector.Options(),
                        settings.FalseAlarmBudget,
                        settings.Margin,
                        Inv($"{scenario.Key} stable, seeds {string.Join(",", reference.Select(r => r.Header.Seed))}, interval {settings.Interval}"));
                    calibrations[scenario.Key] = calibration;
                    if (settings.CalibrationDirectory is { } dir)
                    {
                        Directory.CreateDirectory(dir);
                        calibration.Save(Path.Combine(dir, $"{scenario.Key}.{Slug(detector.Name)}.calibration.json"));
                    }
                }
            }

            var outcomes = new List<RunOutcome>();
            foreach (var run in evaluated.OrderBy(r => r.Header.Scenario, StringComparer.Ordinal).ThenBy(r => r.Header.Config, StringComparer.Ordinal).ThenBy(r => r.Header.Seed))
            {
                var options = detector.Options();
                options.Calibration = calibrations.GetValueOrDefault(run.Header.Scenario);
                var first = Replay(run, options, settings.Interval).FirstOrDefault();
                outcomes.Add(new RunOutcome(run.Header.Scenario, run.Header.Config, run.Header.Seed, run.ExplosionStep, first?.Step, first?.Layer, first?.Reason));
            }

            results.Add(new DetectorResult(detector, outcomes));
        }

        return results;
    }

    /// <summary>Replays a recorded run through a detector in step order, as the monitor would have: each step's
    /// measurements (at multiples of <paramref name="interval"/>) and signals in one
    /// <see cref="CollapseDetector.ObserveStep"/>.</summary>
    /// <param name="run">The run.</param>
    /// <param name="options">The detection options.</param>
    /// <param name="interval">The replay interval (a multiple of the recorded one).</param>
    /// <returns>All alerts, in order.</returns>
    public static List<CollapseAlert> Replay(RunData run, DetectionOptions options, int interval)
    {
        ArgumentNullException.ThrowIfNull(run);
        var detector = new CollapseDetector(options);
        var order = run.Layers.Select((name, i) => (name, i)).ToDictionary(x => x.name, x => x.i, StringComparer.Ordinal);
        var measurements = run.MeasurementsByStep(interval);
        var alerts = new List<CollapseAlert>();
        foreach (var step in run.Steps)
        {
            var measured = measurements[step.Step].OrderBy(m => order.GetValueOrDefault(m.Layer, int.MaxValue)).ToList();
            alerts.AddRange(detector.ObserveStep(step.Step, measured, new TrainingSignals(step.Loss, step.GradNorm)));
        }

        return alerts;
    }

    /// <summary>A run as calibration material.</summary>
    /// <param name="run">The run.</param>
    /// <param name="interval">The replay interval.</param>
    /// <returns>The calibration run.</returns>
    public static CalibrationRun ToCalibrationRun(RunData run, int interval)
    {
        ArgumentNullException.ThrowIfNull(run);
        return new CalibrationRun
        {
            Measurements = run.Measurements.Values.SelectMany(v => v).Where(m => m.Step % interval == 0).OrderBy(m => m.Step).ToList(),
            Signals = run.Steps.Select(s => (s.Step, new TrainingSignals(s.Loss, s.GradNorm))).ToList(),
        };
    }

    /// <summary>The markdown report: the summary table per detector (overall and per scenario), the target check,
    /// and the first alert of every evaluation run.</summary>
    /// <param name="results">The results.</param>
    /// <param name="settings">The settings used.</param>
    /// <param name="runs">All runs (for the header).</param>
    /// <param name="command">The command line that produced the report.</param>
    /// <returns>The markdown.</returns>
    public static string Report(IReadOnlyList<DetectorResult> results, EvaluationSettings settings, IReadOnlyList<RunData> runs, string command)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(runs);
        var sb = new StringBuilder();
        var calibrationSeeds = settings.CalibrationSeeds.ToHashSet();
        sb.AppendLine("# Detector evaluation");
        sb.AppendLine();
        sb.AppendLine(Inv($"Command: `{command}`  "));
        sb.AppendLine(Inv($"Produced: {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC on {Environment.ProcessorCount} cores ({CpuModel()}), .NET {Environment.Version}.  "));
        sb.AppendLine(Inv($"Replay interval: {settings.Interval} steps (the library's default interval). Calibration: stable runs of seeds {string.Join(",", settings.CalibrationSeeds)} per scenario, false-alarm budget {settings.FalseAlarmBudget:P0}, margin {settings.Margin:P0}; those seeds are never evaluated.  "));
        foreach (var scenario in runs.GroupBy(r => r.Header.Scenario).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            string Seeds(string config, bool calibration) => string.Join(",", scenario.Where(r => r.Header.Config == config && calibrationSeeds.Contains(r.Header.Seed) == calibration).Select(r => r.Header.Seed).Order());
            sb.AppendLine(Inv($"`{scenario.Key}`: evaluation seeds stable {Seeds("stable", false)}, exploding {Seeds("exploding", false)}; calibration seeds {Seeds("stable", true)}.  "));
        }

        sb.AppendLine();
        sb.AppendLine("A run is *caught* when the detector's first alert (any layer) comes before the ground-truth explosion step E (first step with a non-finite loss, or from step 100 on a loss above twice its running minimum); the *lead* is E minus that step, also given as a share of E. A *false alarm* is any alert in a stable run (which never explodes).");
        sb.AppendLine();
        sb.AppendLine("## Summary");
        sb.AppendLine();
        sb.AppendLine("| detector | family | exploding caught | lead, steps: median [range] | lead, % of E: median | stable runs with a false alarm |");
        sb.AppendLine("|---|---|---|---|---|---|");
        foreach (var r in results)
            sb.AppendLine(Inv($"| {r.Detector.Name} | {r.Detector.Family} | {Caught(r.Exploding)} | {Leads(r.Exploding)} | {LeadShare(r.Exploding)} | {r.FalseAlarms}/{r.Stable.Count()} |"));
        sb.AppendLine();

        sb.AppendLine("## Per scenario");
        sb.AppendLine();
        var scenarios = results.SelectMany(r => r.Runs.Select(o => o.Scenario)).Distinct().Order(StringComparer.Ordinal).ToList();
        sb.AppendLine("| detector | " + string.Join(" | ", scenarios.Select(s => $"{s}: caught, median lead, false alarms")) + " |");
        sb.AppendLine("|---|" + string.Concat(scenarios.Select(_ => "---|")));
        foreach (var r in results)
        {
            sb.Append(Inv($"| {r.Detector.Name} |"));
            foreach (var s in scenarios)
            {
                var exploding = r.Exploding.Where(o => o.Scenario == s).ToList();
                var stable = r.Stable.Where(o => o.Scenario == s).ToList();
                var leads = exploding.Where(o => o.Caught).Select(o => (double)o.Lead!.Value).ToList();
                sb.Append(Inv($" {exploding.Count(o => o.Caught)}/{exploding.Count}, {(leads.Count == 0 ? "–" : DetectorResult.Median(leads).ToString("F0", CultureInfo.InvariantCulture))}, {stable.Count(o => o.FalseAlarm)}/{stable.Count} |"));
            }

            sb.AppendLine();
        }

        sb.AppendLine();
        sb.AppendLine("## Target");
        sb.AppendLine();
        sb.AppendLine(TargetCheck(results));
        sb.AppendLine();

        sb.AppendLine("## First alert per evaluation run");
        sb.AppendLine();
        sb.AppendLine("`step (layer)`; `–` = no alert; lead in brackets when before E.");
        sb.AppendLine();
        var keys = results[0].Runs.Select(o => (o.Scenario, o.Config, o.Seed, o.ExplosionStep)).ToList();
        sb.AppendLine("| detector | " + string.Join(" | ", keys.Select(k => Inv($"{k.Scenario} {k.Config} s{k.Seed} (E {k.ExplosionStep?.ToString(CultureInfo.InvariantCulture) ?? "–"})"))) + " |");
        sb.AppendLine("|---|" + string.Concat(keys.Select(_ => "---|")));
        foreach (var r in results)
        {
            sb.Append(Inv($"| {r.Detector.Name} |"));
            foreach (var o in r.Runs)
                sb.Append(o.FirstAlertStep is { } a ? Inv($" {a} ({o.FirstAlertLayer}){(o.Caught ? $" [{o.Lead}]" : "")} |") : " – |");
            sb.AppendLine();
        }

        return sb.ToString();
    }

    /// <summary>The issue's target: the best SA detector catches ≥ 80% with median lead ≥ 100 steps, at least twice
    /// the best baseline's lead, and no false alarm; the default options raise no alert on any stable run.</summary>
    /// <param name="results">The results.</param>
    /// <returns>A paragraph with the verdict and the numbers.</returns>
    public static string TargetCheck(IReadOnlyList<DetectorResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        static DetectorResult? Best(IEnumerable<DetectorResult> candidates) => candidates
            .Where(r => r.FalseAlarms == 0)
            .OrderByDescending(r => r.CatchRate).ThenByDescending(r => r.MedianLead).FirstOrDefault();
        var bestSa = Best(results.Where(r => r.Detector.Family == "SA"));
        var bestBaseline = Best(results.Where(r => r.Detector.Family == "baseline"));
        var defaults = results.FirstOrDefault(r => r.Detector.Name == "default options");
        var sb = new StringBuilder();
        if (bestSa is null)
        {
            sb.AppendLine("- No SA-based detector is free of false alarms on the stable evaluation runs: **target not met**.");
        }
        else
        {
            bool catches = bestSa.CatchRate >= 0.8;
            bool leads = bestSa.MedianLead >= 100;
            bool twice = bestBaseline is null || bestSa.MedianLead >= 2 * bestBaseline.MedianLead;
            sb.AppendLine(Inv($"- Best SA-based detector without false alarms: **{bestSa.Detector.Name}** — catches {bestSa.CatchRate:P0} (target ≥ 80%: {(catches ? "met" : "not met")}), median lead {bestSa.MedianLead:F0} steps (target ≥ 100: {(leads ? "met" : "not met")})."));
            sb.AppendLine(bestBaseline is null
                ? "- No baseline is free of false alarms."
                : Inv($"- Best baseline without false alarms: **{bestBaseline.Detector.Name}** — catches {bestBaseline.CatchRate:P0}, median lead {bestBaseline.MedianLead:F0} steps; twice its lead: {(twice ? "met" : "not met")}."));
            sb.AppendLine(Inv($"- SA target as a whole: **{(catches && leads && twice ? "met" : "not met")}**."));
        }

        if (defaults is not null)
            sb.AppendLine(Inv($"- Default options on stable runs: {defaults.FalseAlarms} of {defaults.Stable.Count()} with an alert (target 0: **{(defaults.FalseAlarms == 0 ? "met" : "not met")}**)."));
        return sb.ToString().TrimEnd();
    }

    private static DetectionOptions Only(DetectionRule rule) => new() { Rules = [rule] };

    private static string Caught(IEnumerable<RunOutcome> exploding)
    {
        var list = exploding.ToList();
        return Inv($"{list.Count(o => o.Caught)}/{list.Count}");
    }

    private static string Leads(IEnumerable<RunOutcome> exploding)
    {
        var leads = exploding.Where(o => o.Caught).Select(o => (double)o.Lead!.Value).ToList();
        return leads.Count == 0 ? "–" : Inv($"{DetectorResult.Median(leads):F0} [{leads.Min():F0}–{leads.Max():F0}]");
    }

    private static string LeadShare(IEnumerable<RunOutcome> exploding)
    {
        var shares = exploding.Where(o => o.Caught).Select(o => 100.0 * o.Lead!.Value / o.ExplosionStep!.Value).ToList();
        return shares.Count == 0 ? "–" : Inv($"{DetectorResult.Median(shares):F0}%");
    }

    private static string Slug(string name) => new(name.Select(c => char.IsLetterOrDigit(c) ? char.ToLowerInvariant(c) : '-').ToArray());

    private static string CpuModel()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return line is null ? "unknown CPU" : line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
        }
        catch (IOException)
        {
            return "unknown CPU";
        }
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
