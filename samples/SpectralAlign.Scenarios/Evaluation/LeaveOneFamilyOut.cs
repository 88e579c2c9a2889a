using SpectralAlign.Scenarios.Analysis;

namespace SpectralAlign.Scenarios.Evaluation;

/// <summary>
/// The evaluation by horizon, leave-one-family-out: for every family F and horizon H, everything a detector tunes is
/// chosen on the other families and reported on F.
/// </summary>
/// <remarks>
/// <para>What is tuned on the other families (the "tuning families"), per detector:</para>
/// <list type="number">
/// <item><b>Threshold</b> of each candidate setting whose series has no alarms of its own:
/// <see cref="ThresholdTuning"/> (the lowest θ within the false-alarm budget on the tuning families' healthy steps,
/// pooled). It does not depend on H.</item>
/// <item><b>Setting</b>: among the candidates, the first by (a) within the budget on the tuning families (a tuned
/// threshold always is, unless none could be chosen), (b) the larger share of the tuning families' explosions warned
/// within H at least <see cref="HorizonEvaluationSettings.MinimumLead"/> steps ahead, (c) the larger share warned
/// within H, (d) the larger mean of the tuning families' AUROCs at H, (e) the earlier in the list. When no candidate
/// is within the budget, the one with the fewest false alarms per 1,000 healthy steps comes first.</item>
/// </list>
/// <para>
/// The left-out family's labels never enter a choice. A detector's shipped default is simply one of its candidate
/// settings, so it is chosen the same way.
/// </para>
/// </remarks>
public static class LeaveOneFamilyOut
{
    /// <summary>Runs the evaluation.</summary>
    /// <param name="runs">Recorded runs of every family.</param>
    /// <param name="detectors">The detectors.</param>
    /// <param name="settings">Horizons, budget, bootstrap.</param>
    /// <returns>Families, detectors and one cell per horizon × detector × left-out family.</returns>
    /// <exception cref="ArgumentException">Bad settings, no runs (or none that exploded or finished), a detector
    /// without settings, or duplicate detector names.</exception>
    /// <exception cref="InvalidOperationException">A detector failed on a run or returned a series of the wrong
    /// length (the message names both).</exception>
    public static HorizonEvaluation Evaluate(IReadOnlyList<RunData> runs, IReadOnlyList<HorizonDetector> detectors, HorizonEvaluationSettings settings)
    {
        ArgumentNullException.ThrowIfNull(runs);
        ArgumentNullException.ThrowIfNull(detectors);
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        if (runs.Count == 0)
            throw new ArgumentException("No runs to evaluate.", nameof(runs));
        if (detectors.FirstOrDefault(d => d.Settings.Count == 0) is { } empty)
            throw new ArgumentException($"Detector '{empty.Name}' has no settings.", nameof(detectors));
        if (detectors.GroupBy(d => d.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } dup)
            throw new ArgumentException($"Two detectors are named '{dup.Key}'.", nameof(detectors));

        // Runs that neither exploded nor finished are neither stable nor exploding: left out (counted per family).
        var all = runs.Select(EvaluationRun.From).ToArray();
        var unfinished = all.Where(f => f.Unfinished).GroupBy(f => f.Family, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var kept = Enumerable.Range(0, all.Length).Where(r => !all[r].Unfinished).ToArray();
        if (kept.Length == 0)
            throw new ArgumentException($"None of the {runs.Count} runs exploded or finished its planned steps.", nameof(runs));
        var facts = kept.Select(r => all[r]).ToArray();
        runs = kept.Select(r => runs[r]).ToArray();
        var families = facts.Select(f => f.Family).Distinct().Order(StringComparer.Ordinal).ToArray();
        var members = families.ToDictionary(f => f, f => Enumerable.Range(0, facts.Length).Where(r => facts[r].Family == f).ToArray(), StringComparer.Ordinal);
        var labels = settings.Horizons.ToDictionary(h => h, h => facts.Select(f => f.Labels(h)).ToArray());

        var cells = new List<HorizonCell>();
        var candidateChoices = new List<HorizonChoice>();
        foreach (var detector in detectors)
        {
            var candidates = detector.Settings.Select(s => Candidate.Create(detector, s, runs.Select((run, r) => Score(detector, s, run, facts[r])).ToArray())).ToArray();
            foreach (string? left in families.Append(null))
            {
                // left == null: tuned on every family, nothing left out — what a shipped default would be.
                int[] tuning = Enumerable.Range(0, facts.Length).Where(r => facts[r].Family != left).ToArray();
                var tuningFamilies = families.Where(f => f != left).ToArray();
                var thresholds = candidates.Select(c => c.OwnAlarms ? null : ThresholdTuning.Choose(
                    tuning.Select(r => (IReadOnlyList<double>)new ArraySegment<double>(c.Series[r].Scores, 0, facts[r].HealthySteps)).ToArray(),
                    c.Setting.Persistence,
                    settings.FalseAlarmBudget)).ToArray();
                var active = candidates.Select((c, i) => Active(c, thresholds[i])).ToArray();
                foreach (int h in settings.Horizons)
                {
                    var ranked = candidates.Select((c, i) => Tune(c, active[i], tuning, tuningFamilies, members, facts, labels[h], settings)).ToArray();
                    int best = Enumerable.Range(0, candidates.Length)
                        .OrderByDescending(i => ranked[i].WithinBudget)
                        .ThenBy(i => ranked[i].WithinBudget ? 0 : Sortable(ranked[i].FalseAlarmsPer1k))
                        .ThenByDescending(i => Sortable(ranked[i].WarnedAheadShare, missing: -1))
                        .ThenByDescending(i => Sortable(ranked[i].WarnedShare, missing: -1))
                        .ThenByDescending(i => Sortable(ranked[i].Auroc, missing: -1))
                        .ThenBy(i => i)
                        .First();
                    var chosen = candidates[best];
                    if (left is null)
                    {
                        for (int i = 0; i < candidates.Length; i++)
                        {
                            var alarmsOn = active[i];
                            int onsets = alarmsOn is null ? 0 : tuning.Sum(r => Alarms.Onsets(alarmsOn[r], facts[r].HealthySteps));
                            candidateChoices.Add(new HorizonChoice(detector.Name, h, candidates[i].Setting.Name, candidates[i].OwnAlarms, thresholds[i]?.Threshold ?? double.NaN, ranked[i].FalseAlarmsPer1k, ranked[i].WarnedShare, ranked[i].Auroc)
                            {
                                Chosen = i == best,
                                FalseAlarms = onsets,
                                WarnedAheadShare = ranked[i].WarnedAheadShare,
                            });
                        }

                        continue;
                    }

                    var own = members[left];
                    var cell = FamilyMetrics.Compute(
                        own.Select(r => facts[r]).ToArray(),
                        own.Select(r => chosen.Series[r].Scores).ToArray(),
                        own.Select(r => labels[h][r]).ToArray(),
                        active[best] is { } a ? own.Select(r => a[r]).ToArray() : null,
                        h,
                        settings);
                    cells.Add(cell with
                    {
                        Detector = detector.Name,
                        Family = left,
                        Setting = chosen.Setting.Name,
                        Persistence = chosen.Setting.Persistence,
                        OwnAlarms = chosen.OwnAlarms,
                        Threshold = thresholds[best]?.Threshold ?? double.NaN,
                        TuningFalseAlarmsPer1k = ranked[best].FalseAlarmsPer1k,
                        TuningWarnedShare = ranked[best].WarnedShare,
                        TuningAuroc = ranked[best].Auroc,
                    });
                }
            }
        }

        var summaries = families.Select(f =>
        {
            var own = members[f].Select(r => facts[r]).ToArray();
            return new FamilySummary(
                f,
                own.Length,
                unfinished.GetValueOrDefault(f),
                own.Select(r => r.Seed).Distinct().Count(),
                own.Count(r => r.Explodes),
                own.Count(r => r.ForkStep is not null),
                own.Sum(r => (long)r.Steps.Count),
                own.Sum(r => (long)r.HealthySteps),
                settings.Horizons.ToDictionary(h => h, h => members[f].Sum(r => labels[h][r].LongCount(l => l == StepLabel.Positive))));
        }).ToArray();
        return new HorizonEvaluation(settings, summaries, detectors, cells) { Choices = [.. candidateChoices.Where(c => c.Chosen)], Candidates = candidateChoices };
    }

    private static ScoreSeries Score(HorizonDetector detector, DetectorSetting setting, RunData run, EvaluationRun facts)
    {
        ScoreSeries series;
        try
        {
            series = setting.Score(run);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new InvalidOperationException($"Detector '{detector.Name}' ({setting.Name}) failed on run {facts.Name}: {ex.Message}", ex);
        }

        if (series?.Scores is null || series.Scores.Length != facts.Steps.Count || (series.Alarms is { } a && a.Length != facts.Steps.Count))
        {
            throw new InvalidOperationException(
                $"Detector '{detector.Name}' ({setting.Name}) returned {series?.Scores?.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "no"} scores"
                + $"{(series?.Alarms is { } b ? $" and {b.Length} alarm flags" : "")} for run {facts.Name}, which has {facts.Steps.Count} steps.");
        }

        return series;
    }

    private static bool[][]? Active(Candidate c, TunedThreshold? threshold)
    {
        if (c.OwnAlarms)
            return c.Series.Select(s => s.Alarms!).ToArray();
        return threshold is null || double.IsNaN(threshold.Threshold)
            ? null
            : c.Series.Select(s => Alarms.Active(s.Scores, threshold.Threshold, c.Setting.Persistence)).ToArray();
    }

    private static Tuned Tune(Candidate c, bool[][]? active, int[] tuning, string[] tuningFamilies, Dictionary<string, int[]> members, EvaluationRun[] facts, StepLabel[][] labels, HorizonEvaluationSettings settings)
    {
        double auroc = tuningFamilies
            .Select(f => c.Auroc(f, labels, members[f]))
            .Where(a => !double.IsNaN(a))
            .DefaultIfEmpty(double.NaN)
            .Average();
        if (active is null)
            return new Tuned(false, double.NaN, double.NaN, double.NaN, auroc);
        long healthy = 0, alarms = 0, explosions = 0, warned = 0, ahead = 0;
        foreach (int r in tuning)
        {
            healthy += facts[r].HealthySteps;
            alarms += Alarms.Onsets(active[r], facts[r].HealthySteps);
            if (facts[r].Explodes && labels[r].Contains(StepLabel.Positive))
            {
                explosions++;
                warned += Alarms.Warned(active[r], labels[r]) ? 1 : 0;
                ahead += Alarms.WarnedAhead(facts[r], active[r], labels[r], settings.MinimumLead) ? 1 : 0;
            }
        }

        double rate = healthy == 0 ? double.NaN : 1000.0 * alarms / healthy;
        bool within = healthy > 0 && 1000.0 * alarms <= settings.FalseAlarmBudget * healthy * (1 + 1e-12);
        return new Tuned(within, rate, explosions == 0 ? double.NaN : (double)warned / explosions, explosions == 0 ? double.NaN : (double)ahead / explosions, auroc);
    }

    private static double Sortable(double value, double missing = double.PositiveInfinity) => double.IsNaN(value) ? missing : value;

    private sealed record Tuned(bool WithinBudget, double FalseAlarmsPer1k, double WarnedShare, double WarnedAheadShare, double Auroc);

    private sealed class Candidate(DetectorSetting setting, ScoreSeries[] series)
    {
        private readonly Dictionary<(string Family, StepLabel[][] Labels), double> _auroc = [];

        public DetectorSetting Setting { get; } = setting;

        public ScoreSeries[] Series { get; } = series;

        public bool OwnAlarms { get; } = series.Length > 0 && series[0].Alarms is not null;

        public static Candidate Create(HorizonDetector detector, DetectorSetting setting, ScoreSeries[] series)
        {
            if (series.Any(s => s.Alarms is null) && series.Any(s => s.Alarms is not null))
                throw new InvalidOperationException($"Detector '{detector.Name}' ({setting.Name}) returned alarms for some runs but not for others.");
            return new Candidate(setting, series);
        }

        /// <summary>AUROC of this setting on one family at the horizon of <paramref name="labels"/> (cached).</summary>
        public double Auroc(string family, StepLabel[][] labels, int[] members)
        {
            if (_auroc.TryGetValue((family, labels), out double cached))
                return cached;
            var scores = new List<double>();
            var positive = new List<bool>();
            foreach (int r in members)
            {
                for (int i = 0; i < labels[r].Length; i++)
                {
                    if (labels[r][i] == StepLabel.Excluded)
                        continue;
                    scores.Add(Series[r].Scores[i]);
                    positive.Add(labels[r][i] == StepLabel.Positive);
                }
            }

            return _auroc[(family, labels)] = RankMetrics.Auroc(scores, positive);
        }
    }
}
