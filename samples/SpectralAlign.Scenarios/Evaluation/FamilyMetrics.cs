using MathNet.Numerics.Statistics;

namespace SpectralAlign.Scenarios.Evaluation;

/// <summary>
/// Every metric of one detector setting on one family at one horizon, with bootstrap intervals over the family's
/// seeds (<see cref="SeedBootstrap"/>). Each resample costs O(labelled steps): tie groups are numbered once, and a
/// resample only adds up weighted counts per group.
/// </summary>
public static class FamilyMetrics
{
    /// <summary>The metrics.</summary>
    /// <param name="runs">The family's runs.</param>
    /// <param name="scores">Per run, its score per recorded step.</param>
    /// <param name="labels">Per run, its labels at <paramref name="horizon"/>.</param>
    /// <param name="active">Per run, its alarm's active series, or null when there is no alarm (no threshold could be
    /// chosen): then the alarm metrics are NaN.</param>
    /// <param name="horizon">H (for the cell).</param>
    /// <param name="settings">Bootstrap settings.</param>
    /// <returns>A cell without names or tuning facts (the caller adds them).</returns>
    public static HorizonCell Compute(
        IReadOnlyList<EvaluationRun> runs,
        IReadOnlyList<double[]> scores,
        IReadOnlyList<StepLabel[]> labels,
        IReadOnlyList<bool[]>? active,
        int horizon,
        HorizonEvaluationSettings settings)
    {
        ArgumentNullException.ThrowIfNull(runs);
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(settings);
        int n = runs.Count;

        // Labelled points of all runs, numbered by tie group over the whole family.
        var pointScores = new List<double>();
        var pointPositive = new List<bool>();
        var pointRun = new List<int>();
        for (int r = 0; r < n; r++)
        {
            for (int i = 0; i < labels[r].Length; i++)
            {
                if (labels[r][i] == StepLabel.Excluded)
                    continue;
                pointScores.Add(scores[r][i]);
                pointPositive.Add(labels[r][i] == StepLabel.Positive);
                pointRun.Add(r);
            }
        }

        // Per run, its points folded into (group, positives, negatives), so a resample adds each distinct score once.
        var groups = RankMetrics.TieGroups(pointScores, out int groupCount);
        var runGroups = new int[n][];
        var runPos = new int[n][];
        var runNeg = new int[n][];
        for (int r = 0, p = 0; r < n; r++)
        {
            int start = p;
            while (p < groups.Length && pointRun[p] == r)
                p++;
            var counts = new SortedDictionary<int, (int Pos, int Neg)>();
            for (int i = start; i < p; i++)
            {
                var (cp, cn) = counts.GetValueOrDefault(groups[i]);
                counts[groups[i]] = pointPositive[i] ? (cp + 1, cn) : (cp, cn + 1);
            }

            runGroups[r] = [.. counts.Keys];
            runPos[r] = [.. counts.Values.Select(c => c.Pos)];
            runNeg[r] = [.. counts.Values.Select(c => c.Neg)];
        }

        // Per-run alarm facts.
        var healthy = runs.Select(r => r.HealthySteps).ToArray();
        var onsets = new int[n];
        var eligible = new bool[n];
        var warned = new bool[n];
        var ahead = new bool[n];
        var lead = new double[n];
        for (int r = 0; r < n; r++)
        {
            eligible[r] = runs[r].Explodes && labels[r].Contains(StepLabel.Positive);
            lead[r] = double.NaN;
            if (active is null)
                continue;
            onsets[r] = Alarms.Onsets(active[r], healthy[r]);
            warned[r] = eligible[r] && Alarms.Warned(active[r], labels[r]);
            ahead[r] = eligible[r] && Alarms.WarnedAhead(runs[r], active[r], labels[r], settings.MinimumLead);
            lead[r] = Alarms.Lead(runs[r], active[r]) is { } l ? l : double.NaN;
        }

        var pos = new long[groupCount];
        var neg = new long[groupCount];
        var leads = new List<double>();
        double[] Statistics(int[] weight)
        {
            Array.Clear(pos);
            Array.Clear(neg);
            leads.Clear();
            double healthySteps = 0, alarms = 0, explosions = 0, warnedRuns = 0, aheadRuns = 0;
            for (int r = 0; r < n; r++)
            {
                int w = weight[r];
                if (w == 0)
                    continue;
                var g = runGroups[r];
                var rp = runPos[r];
                var rn = runNeg[r];
                for (int i = 0; i < g.Length; i++)
                {
                    pos[g[i]] += w * rp[i];
                    neg[g[i]] += w * rn[i];
                }

                healthySteps += w * healthy[r];
                alarms += w * onsets[r];
                explosions += eligible[r] ? w : 0;
                warnedRuns += warned[r] ? w : 0;
                aheadRuns += ahead[r] ? w : 0;
                for (int k = 0; k < w && !double.IsNaN(lead[r]); k++)
                    leads.Add(lead[r]);
            }

            bool alarmed = active is not null;
            return
            [
                RankMetrics.Auroc(pos, neg),
                RankMetrics.AveragePrecision(pos, neg),
                alarmed && healthySteps > 0 ? 1000 * alarms / healthySteps : double.NaN,
                alarmed && explosions > 0 ? warnedRuns / explosions : double.NaN,
                alarmed && leads.Count > 0 ? leads.Median() : double.NaN,
                alarmed && explosions > 0 ? aheadRuns / explosions : double.NaN,
            ];
        }

        var cluster = Clusters(runs);
        var m = SeedBootstrap.Estimate(cluster, Statistics, settings.Resamples, settings.BootstrapSeed, settings.Confidence);
        return new HorizonCell
        {
            Detector = "",
            Family = runs.Count > 0 ? runs[0].Family : "",
            Setting = "",
            Horizon = horizon,
            Auroc = m[0],
            AveragePrecision = m[1],
            FalseAlarmsPer1k = m[2],
            WarnedShare = m[3],
            MedianLead = m[4],
            WarnedAheadShare = m[5],
            Positives = pointPositive.LongCount(p => p),
            Negatives = pointPositive.LongCount(p => !p),
            HealthySteps = healthy.Sum(h => (long)h),
            FalseAlarms = onsets.Sum(),
            Explosions = eligible.Count(e => e),
            Warned = warned.Count(w => w),
            WarnedAhead = ahead.Count(w => w),
            Leads = lead.Count(l => !double.IsNaN(l)),
        };
    }

    /// <summary>The bootstrap unit of each run: its seed, numbered 0 … seeds − 1 in order of first appearance.</summary>
    /// <param name="runs">The runs of one family.</param>
    /// <returns>The unit per run.</returns>
    public static int[] Clusters(IReadOnlyList<EvaluationRun> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        var index = new Dictionary<int, int>();
        return runs.Select(r => index.TryGetValue(r.Seed, out int c) ? c : index[r.Seed] = index.Count).ToArray();
    }
}
