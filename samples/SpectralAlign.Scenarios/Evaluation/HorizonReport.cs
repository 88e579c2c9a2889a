using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace SpectralAlign.Scenarios.Evaluation;

/// <summary>The markdown report of an evaluation by horizon.</summary>
public static class HorizonReport
{
    /// <summary>Writes the report.</summary>
    /// <param name="evaluation">The evaluation.</param>
    /// <param name="command">The exact command that produced it (relative paths only).</param>
    /// <param name="elapsed">Wall time of loading and evaluating.</param>
    /// <param name="records">A paragraph about the records (<see cref="HorizonRecords.Describe"/>), or null.</param>
    /// <returns>The markdown.</returns>
    public static string Write(HorizonEvaluation evaluation, string command, TimeSpan elapsed, string? records = null)
    {
        ArgumentNullException.ThrowIfNull(evaluation);
        ArgumentNullException.ThrowIfNull(command);
        var s = evaluation.Settings;
        var families = evaluation.Families.Select(f => f.Family).ToArray();
        var sb = new StringBuilder();
        sb.AppendLine("# Evaluation by horizon");
        sb.AppendLine();
        sb.AppendLine(Inv($"Command: `{command}`  "));
        sb.AppendLine(Inv($"Produced: {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC on {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, .NET {Environment.Version}; {evaluation.Families.Sum(f => f.Runs)} runs loaded and evaluated in {elapsed.TotalSeconds:F1} s.  "));
        sb.AppendLine(Inv($"Horizons H = {string.Join(", ", s.Horizons)} steps; operating point ≤ {s.FalseAlarmBudget} false alarms per 1,000 healthy steps; {s.Resamples} bootstrap resamples over seeds (seed {s.BootstrapSeed}), {s.Confidence * 100:F0}% percentile intervals."));
        if (records is not null)
            sb.AppendLine().AppendLine(records);
        sb.AppendLine();
        sb.AppendLine("## Families");
        sb.AppendLine();
        sb.AppendLine("| family | runs | left out: unfinished | seeds | exploding | forks | steps | healthy steps | " + string.Join(" | ", s.Horizons.Select(h => Inv($"positives H={h}"))) + " |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|" + string.Concat(s.Horizons.Select(_ => "---|")));
        foreach (var f in evaluation.Families)
            sb.AppendLine(Inv($"| {Cell(f.Family)} | {f.Runs} | {f.Unfinished} | {f.Seeds} | {f.Exploding} | {f.Forks} | {f.Steps} | {f.HealthySteps} | ") + string.Join(" | ", s.Horizons.Select(h => Inv($"{f.Positives[h]}"))) + " |");
        sb.AppendLine();
        AppendDefinitions(sb, evaluation);
        AppendHeadline(sb, evaluation);

        foreach (int h in s.Horizons)
        {
            sb.AppendLine(Inv($"## H = {h}"));
            sb.AppendLine();
            sb.AppendLine("Each cell: the detector tuned on the other families, reported on the family of its column. AUROC [95% CI] · AUPRC · false alarms per 1,000 healthy steps · explosions warned within H (of them, at least the minimum lead ahead) · median lead (steps).");
            sb.AppendLine();
            sb.AppendLine("| detector | kind | " + string.Join(" | ", families.Select(f => $"{Cell(f)} (left out)")) + " |");
            sb.AppendLine("|---|---|" + string.Concat(families.Select(_ => "---|")));
            foreach (var d in evaluation.Detectors)
            {
                sb.Append(Inv($"| {Cell(d.Name)} | {Cell(d.Kind)} |"));
                foreach (var f in families)
                {
                    var c = evaluation.Cell(h, d.Name, f);
                    sb.Append(Inv($" {Ci(c.Auroc, "F2")} · AP {Num(c.AveragePrecision.Value, "F3")} · FA {Num(c.FalseAlarmsPer1k.Value, "F2")} · {Share(c)} · lead {Num(c.MedianLead.Value, "F0")} |"));
                }

                sb.AppendLine();
            }

            sb.AppendLine();
            sb.AppendLine(Inv($"### H = {h}: choices and intervals"));
            sb.AppendLine();
            sb.AppendLine("| detector | left out | setting chosen | θ | AUROC [CI] | AUPRC [CI] | FA/1k [CI] (alarms / healthy steps) | warned [CI] | warned ahead [CI] | median lead [CI] (runs) | on the tuning families: FA/1k · warned · mean AUROC |");
            sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|");
            foreach (var d in evaluation.Detectors)
            {
                foreach (var f in families)
                {
                    var c = evaluation.Cell(h, d.Name, f);
                    string threshold = c.OwnAlarms ? "own alarms" : Num(c.Threshold, "G4");
                    sb.AppendLine(Inv($"| {Cell(d.Name)} | {Cell(f)} | {Cell(c.Setting)} | {threshold} | {Ci(c.Auroc, "F2")} | {Ci(c.AveragePrecision, "F3")} | {Ci(c.FalseAlarmsPer1k, "F2")} ({c.FalseAlarms} / {c.HealthySteps}) | {Ci(c.WarnedShare, "F2")} ({c.Warned}/{c.Explosions}) | {Ci(c.WarnedAheadShare, "F2")} ({c.WarnedAhead}/{c.Explosions}) | {Ci(c.MedianLead, "F0")} ({c.Leads}) | {Num(c.TuningFalseAlarmsPer1k, "F2")} · {Num(c.TuningWarnedShare, "F2")} · {Num(c.TuningAuroc, "F2")} |"));
                }
            }

            sb.AppendLine();
        }

        return sb.ToString();
    }

    private static void AppendDefinitions(StringBuilder sb, HorizonEvaluation evaluation)
    {
        var s = evaluation.Settings;
        sb.AppendLine("## How to read the tables");
        sb.AppendLine();
        sb.AppendLine("- **Labels.** E is a run's explosion step (first non-finite loss, or from step 100 a loss above twice its running minimum), F its fork step when it was branched from a healthy parent (recorded in the header; an explosion before F makes the record invalid). A run that neither exploded nor ran its planned steps is neither stable nor exploding and is left out. A recorded step t is *positive* at horizon H when 0 < E − t ≤ H and t ≥ F; steps t ≥ E are left out; every other step is *negative* (all steps of runs that do not explode, all steps before a fork, and early steps of exploding runs with E − t > H).");
        sb.AppendLine("- **Healthy steps** (the false-alarm denominator): all steps of runs that do not explode (stable runs, survivors, fork controls and triggered forks that survive) and the steps before the fork of forks that explode. Early steps of exploding runs that were not forked are negatives for AUROC/AUPRC but not healthy: such a run is already on its way to explode.");
        sb.AppendLine("- **Score.** A detector gives a score per recorded step (what it knows after that step; measurement-based scores hold their last value between measurements). A step without a score (warm-up) ranks below every scored step.");
        sb.AppendLine("- **AUROC**: probability that a random positive step scores above a random negative step of the same family, ties counting ½ (Mann–Whitney). 0.5 = no information. Threshold-free.");
        sb.AppendLine("- **AUPRC**: average precision, Σ_k (R_k − R_{k−1})·P_k over the distinct scores as thresholds from high to low (scikit-learn's definition, ties enter together). A score without information gets the share of positive steps.");
        sb.AppendLine(Inv($"- **θ, alarm.** The alarm is active at a step when the score was ≥ θ at the setting's k consecutive recorded steps. θ is the lowest threshold whose false alarms on the *other* families' healthy steps stay ≤ {s.FalseAlarmBudget} per 1,000; the setting is chosen on the other families too (within the budget, then most explosions warned within H at least {s.MinimumLead} steps ahead, then most warned within H, then mean AUROC). The left-out family never enters a choice."));
        sb.AppendLine("- **FA / FA/1k**: alarm onsets (an active step after an inactive one) on the left-out family's healthy steps, per 1,000 healthy steps.");
        sb.AppendLine("- **warned**: exploding runs of the left-out family whose alarm is active at one or more of their positive steps, out of the exploding runs with positive steps.");
        sb.AppendLine(Inv($"- **median lead**: over the left-out family's exploding runs with an alarm before E, E minus the first step at which the alarm is active, counting from the fork (forks) or from step {GroundTruth.SettlingSteps} (the ground truth's settling period). It does not depend on H."));
        sb.AppendLine(Inv($"- **[CI]**: {s.Confidence * 100:F0}% percentile bootstrap interval over the left-out family's seeds (a seed's runs are resampled together; {s.Resamples} resamples, fixed generator seed), over the resamples where the metric is defined; no interval when fewer than half are. The interval covers the evaluation on this family, not the tuning."));
        sb.AppendLine("- **–**: undefined (no positives, no healthy steps, no threshold could be chosen, or no run with a lead).");
        sb.AppendLine();
    }

    /// <summary>The headline at the middle horizon (H = 100 by default): per family the best score of each kind, the
    /// shipped defaults, the default rule set chosen on the other families, and the target of issue 11 item 4.</summary>
    private static void AppendHeadline(StringBuilder sb, HorizonEvaluation evaluation)
    {
        var s = evaluation.Settings;
        int h = s.Horizons.Contains(100) ? 100 : s.Horizons[s.Horizons.Count / 2];
        var kinds = evaluation.Detectors.Select(d => d.Kind).Distinct().OrderBy(k => Array.IndexOf(KindOrder, k) is var i and >= 0 ? i : KindOrder.Length).ToArray();
        HorizonCell? Best(string kind, string family) => evaluation.Detectors
            .Where(d => d.Kind == kind && !IsDefault(d.Name))
            .Select(d => evaluation.Cell(h, d.Name, family))
            .Where(c => !double.IsNaN(c.Auroc.Value))
            .OrderByDescending(c => c.Auroc.Value)
            .FirstOrDefault();
        string Alarm(string detector, string family)
        {
            if (!evaluation.Detectors.Any(d => d.Name == detector))
                return "–";
            var c = evaluation.Cell(h, detector, family);
            string warned = double.IsNaN(c.WarnedShare.Value) ? "no explosions" : Inv($"{c.Warned}/{c.Explosions} within H, {c.WarnedAhead}/{c.Explosions} ≥ {s.MinimumLead} ahead");
            return Inv($"FA/1k {Ci(c.FalseAlarmsPer1k, "F2")} ({c.FalseAlarms} alarms); {warned}");
        }

        sb.AppendLine(Inv($"## Headline at H = {h}"));
        sb.AppendLine();
        sb.AppendLine(Inv($"Per left-out family: the detector of each kind with the highest AUROC at H = {h} on that family (a reading of the tables below, not a tuned choice: every detector's own settings were chosen on the other families), the shipped defaults (`new DetectionOptions()`, nothing tuned), and the default rule set chosen on the other families (which one rule at which threshold, or none)."));
        sb.AppendLine();
        sb.AppendLine("| family | " + string.Join(" | ", kinds.Select(k => $"best {Cell(k)}: AUROC [CI]")) + " | shipped defaults | default rule set (chosen on the other families) |");
        sb.AppendLine("|---|" + string.Concat(kinds.Select(_ => "---|")) + "---|---|");
        foreach (var f in evaluation.Families.Select(x => x.Family))
        {
            sb.Append(Inv($"| {Cell(f)} |"));
            foreach (var k in kinds)
                sb.Append(Best(k, f) is { } b ? Inv($" {Cell(b.Detector)}: {Ci(b.Auroc, "F2")} |") : " – |");
            string set = evaluation.Detectors.Any(d => d.Name == DefaultRuleSet) ? Cell(evaluation.Cell(h, DefaultRuleSet, f).Setting) + "; " + Alarm(DefaultRuleSet, f) : "–";
            sb.AppendLine(Inv($" {Alarm(ShippedDefaults, f)} | {set} |"));
        }

        sb.AppendLine();
        sb.AppendLine(Inv($"### Target of issue 11 item 4 (H = {h})"));
        sb.AppendLine();
        foreach (var f in TargetFamilies.Where(f => evaluation.Families.Any(x => x.Family == f)))
        {
            var sa = Best("SA", f);
            var baseline = Best("baseline", f);
            bool met = sa is not null && sa.Auroc.Value >= 0.8 && (baseline is null || sa.Auroc.Value > baseline.Auroc.Value);
            sb.AppendLine(Inv($"- {f}: best SA-based score {(sa is null ? "–" : $"{Cell(sa.Detector)} AUROC {sa.Auroc.Value:F2}")} against best scalar baseline {(baseline is null ? "–" : $"{Cell(baseline.Detector)} AUROC {baseline.Auroc.Value:F2}")}: AUROC ≥ 0.8 and above the baseline **{(met ? "met" : "not met")}**."));
        }

        foreach (var name in new[] { ShippedDefaults, DefaultRuleSet }.Where(n => evaluation.Detectors.Any(d => d.Name == n)))
        {
            var cells = evaluation.Families.Select(x => evaluation.Cell(h, name, x.Family)).ToArray();
            var failing = cells.Where(c => !(c.FalseAlarmsPer1k.Value <= s.FalseAlarmBudget) || (!double.IsNaN(c.WarnedAheadShare.Value) && c.WarnedAheadShare.Value < 0.5)).Select(c => c.Family).ToArray();
            var silent = cells.All(c => c.FalseAlarms == 0);
            sb.AppendLine(Inv($"- {name}: warns ≥ {s.MinimumLead} steps ahead before ≥ 50% of explosions with ≤ {s.FalseAlarmBudget} false alarms per 1,000 healthy steps on every left-out family: **{(failing.Length == 0 ? "met" : $"not met ({string.Join(", ", failing)})")}**; silent on every healthy step: {(silent ? "yes" : "no")}."));
        }

        var choices = evaluation.Choices.Where(c => c.Horizon == h && (c.Detector == DefaultRuleSet || c.Detector == ShippedDefaults)).ToArray();
        if (choices.Length > 0)
        {
            sb.AppendLine();
            sb.AppendLine(Inv($"Chosen on every family at once (nothing left out; what the library should ship — its numbers are on the families it was chosen on, so they are not an evaluation):"));
            sb.AppendLine();
            foreach (var c in choices)
                sb.AppendLine(Inv($"- {c.Detector}: **{Cell(c.Setting)}** — FA/1k {Num(c.FalseAlarmsPer1k, "F2")}, warned within H {Num(c.WarnedShare, "F2")}, mean AUROC {Num(c.MeanAuroc, "F2")}."));
        }

        var candidates = evaluation.Candidates.Where(c => c.Horizon == h && c.Detector == DefaultRuleSet).ToArray();
        if (candidates.Length > 0)
        {
            sb.AppendLine();
            sb.AppendLine(Inv($"Every candidate default on every family at once (H = {h}; sorted by false alarms, then warned ahead): which would stay silent on every healthy step, and what each would warn."));
            sb.AppendLine();
            sb.AppendLine(Inv($"| candidate | false alarms (all healthy steps) | FA/1k | warned within H | warned ≥ {s.MinimumLead} ahead | mean AUROC |"));
            sb.AppendLine("|---|---|---|---|---|---|");
            foreach (var c in candidates.OrderBy(c => c.FalseAlarms).ThenByDescending(c => Sortable(c.WarnedAheadShare)).ThenByDescending(c => Sortable(c.WarnedShare)))
                sb.AppendLine(Inv($"| {Cell(c.Setting)}{(c.Chosen ? " (chosen)" : "")} | {c.FalseAlarms} | {Num(c.FalseAlarmsPer1k, "F2")} | {Num(c.WarnedShare, "F2")} | {Num(c.WarnedAheadShare, "F2")} | {Num(c.MeanAuroc, "F2")} |"));
        }

        sb.AppendLine();
    }

    private static readonly string[] KindOrder = ["SA", "spectral", "baseline", "reference"];

    private const string ShippedDefaults = "shipped defaults";

    private const string DefaultRuleSet = "default rule set";

    /// <summary>The families whose stable and exploding runs share the configuration (issue 11 item 4).</summary>
    private static readonly string[] TargetFamilies = ["gpt-lottery", "gpt-fork"];

    private static double Sortable(double value) => double.IsNaN(value) ? -1 : value;

    private static bool IsDefault(string detector) => detector is ShippedDefaults or DefaultRuleSet;

    /// <summary>Text for a table cell: a '|' would end the cell.</summary>
    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal);

    private static string Share(HorizonCell c) => double.IsNaN(c.WarnedShare.Value) ? "–" : Inv($"{c.Warned}/{c.Explosions} warned ({c.WarnedAhead} ahead)");

    private static string Ci(MetricEstimate m, string format) =>
        double.IsNaN(m.Value) ? "–"
        : double.IsNaN(m.Lower) ? Num(m.Value, format)
        : $"{Num(m.Value, format)} [{Num(m.Lower, format)}, {Num(m.Upper, format)}]";

    private static string Num(double value, string format) => double.IsNaN(value) ? "–" : value.ToString(format, CultureInfo.InvariantCulture);

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
