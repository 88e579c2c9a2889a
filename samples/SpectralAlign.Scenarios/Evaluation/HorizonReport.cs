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
    /// <returns>The markdown.</returns>
    public static string Write(HorizonEvaluation evaluation, string command, TimeSpan elapsed)
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
        sb.AppendLine();
        sb.AppendLine("## Families");
        sb.AppendLine();
        sb.AppendLine("| family | runs | left out: unfinished | seeds | exploding | forks | steps | healthy steps | " + string.Join(" | ", s.Horizons.Select(h => Inv($"positives H={h}"))) + " |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|" + string.Concat(s.Horizons.Select(_ => "---|")));
        foreach (var f in evaluation.Families)
            sb.AppendLine(Inv($"| {Cell(f.Family)} | {f.Runs} | {f.Unfinished} | {f.Seeds} | {f.Exploding} | {f.Forks} | {f.Steps} | {f.HealthySteps} | ") + string.Join(" | ", s.Horizons.Select(h => Inv($"{f.Positives[h]}"))) + " |");
        sb.AppendLine();
        AppendDefinitions(sb, evaluation);

        foreach (int h in s.Horizons)
        {
            sb.AppendLine(Inv($"## H = {h}"));
            sb.AppendLine();
            sb.AppendLine("Each cell: the detector tuned on the other families, reported on the family of its column. AUROC [95% CI] · AUPRC · false alarms per 1,000 healthy steps · explosions warned within H · median lead (steps).");
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
            sb.AppendLine("| detector | left out | setting chosen | θ | AUROC [CI] | AUPRC [CI] | FA/1k [CI] (alarms / healthy steps) | warned [CI] | median lead [CI] (runs) | on the tuning families: FA/1k · warned · mean AUROC |");
            sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
            foreach (var d in evaluation.Detectors)
            {
                foreach (var f in families)
                {
                    var c = evaluation.Cell(h, d.Name, f);
                    string threshold = c.OwnAlarms ? "own alarms" : Num(c.Threshold, "G4");
                    sb.AppendLine(Inv($"| {Cell(d.Name)} | {Cell(f)} | {Cell(c.Setting)} | {threshold} | {Ci(c.Auroc, "F2")} | {Ci(c.AveragePrecision, "F3")} | {Ci(c.FalseAlarmsPer1k, "F2")} ({c.FalseAlarms} / {c.HealthySteps}) | {Ci(c.WarnedShare, "F2")} ({c.Warned}/{c.Explosions}) | {Ci(c.MedianLead, "F0")} ({c.Leads}) | {Num(c.TuningFalseAlarmsPer1k, "F2")} · {Num(c.TuningWarnedShare, "F2")} · {Num(c.TuningAuroc, "F2")} |"));
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
        sb.AppendLine(Inv($"- **θ, alarm.** The alarm is active at a step when the score was ≥ θ at the setting's k consecutive recorded steps. θ is the lowest threshold whose false alarms on the *other* families' healthy steps stay ≤ {s.FalseAlarmBudget} per 1,000; the setting is chosen on the other families too (within the budget, then most explosions warned within H, then mean AUROC). The left-out family never enters a choice."));
        sb.AppendLine("- **FA / FA/1k**: alarm onsets (an active step after an inactive one) on the left-out family's healthy steps, per 1,000 healthy steps.");
        sb.AppendLine("- **warned**: exploding runs of the left-out family whose alarm is active at one or more of their positive steps, out of the exploding runs with positive steps.");
        sb.AppendLine(Inv($"- **median lead**: over the left-out family's exploding runs with an alarm before E, E minus the first step at which the alarm is active, counting from the fork (forks) or from step {GroundTruth.SettlingSteps} (the ground truth's settling period). It does not depend on H."));
        sb.AppendLine(Inv($"- **[CI]**: {s.Confidence * 100:F0}% percentile bootstrap interval over the left-out family's seeds (a seed's runs are resampled together; {s.Resamples} resamples, fixed generator seed), over the resamples where the metric is defined; no interval when fewer than half are. The interval covers the evaluation on this family, not the tuning."));
        sb.AppendLine("- **–**: undefined (no positives, no healthy steps, no threshold could be chosen, or no run with a lead).");
        sb.AppendLine();
    }

    /// <summary>Text for a table cell: a '|' would end the cell.</summary>
    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal);

    private static string Share(HorizonCell c) => double.IsNaN(c.WarnedShare.Value) ? "–" : Inv($"{c.Warned}/{c.Explosions} warned");

    private static string Ci(MetricEstimate m, string format) =>
        double.IsNaN(m.Value) ? "–"
        : double.IsNaN(m.Lower) ? Num(m.Value, format)
        : $"{Num(m.Value, format)} [{Num(m.Lower, format)}, {Num(m.Upper, format)}]";

    private static string Num(double value, string format) => double.IsNaN(value) ? "–" : value.ToString(format, CultureInfo.InvariantCulture);

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
