namespace SpectralAlign.Scenarios.Evaluation;

/// <summary>A threshold chosen on tuning data, with what it did there.</summary>
/// <param name="Threshold">θ, or NaN when none could be chosen (no healthy steps, no healthy step with a score, or
/// the budget cannot be met).</param>
/// <param name="FalseAlarms">False alarms (onsets on healthy steps) of the tuning runs at θ.</param>
/// <param name="HealthySteps">Healthy steps of the tuning runs.</param>
public sealed record TunedThreshold(double Threshold, int FalseAlarms, long HealthySteps)
{
    /// <summary>False alarms per 1,000 healthy steps on the tuning runs (NaN without healthy steps).</summary>
    public double FalseAlarmsPer1k => HealthySteps == 0 ? double.NaN : 1000.0 * FalseAlarms / HealthySteps;
}

/// <summary>
/// Chooses the operating threshold of a score: the <b>lowest</b> θ among the scores seen on healthy tuning steps
/// (plus "just above the highest") whose false alarms (<see cref="Alarms"/>) per 1,000 healthy tuning steps stay
/// within the budget. The share of explosions warned can only grow as θ falls (the active set grows), so this is
/// the θ that warns most on the tuning data within the budget. False alarms are not monotone in θ (a lower θ can
/// merge two episodes into one), so every candidate is checked, in one O(n log n) sweep: healthy steps are switched
/// on from the highest score down while runs of consecutive on-steps are merged and the runs of length ≥ k counted.
/// </summary>
public static class ThresholdTuning
{
    /// <summary>Chooses θ.</summary>
    /// <param name="healthyScores">Per tuning run, its scores on its healthy steps (the healthy prefix).</param>
    /// <param name="persistence">k ≥ 1.</param>
    /// <param name="falseAlarmsPer1k">The budget (≥ 0).</param>
    /// <returns>The threshold and its false alarms on the tuning data.</returns>
    public static TunedThreshold Choose(IReadOnlyList<IReadOnlyList<double>> healthyScores, int persistence, double falseAlarmsPer1k)
    {
        ArgumentNullException.ThrowIfNull(healthyScores);
        ArgumentOutOfRangeException.ThrowIfLessThan(persistence, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(falseAlarmsPer1k);
        long total = healthyScores.Sum(s => (long)s.Count);
        var keys = new double[total];
        var first = new bool[total];
        var last = new bool[total];
        int pos = 0;
        foreach (var run in healthyScores)
        {
            for (int i = 0; i < run.Count; i++)
            {
                keys[pos] = run[i];
                first[pos] = i == 0;
                last[pos] = i == run.Count - 1;
                pos++;
            }
        }

        var order = Enumerable.Range(0, (int)total).Where(i => !double.IsNaN(keys[i])).ToArray();
        if (order.Length == 0)
            return new TunedThreshold(double.NaN, 0, total);
        var sortKeys = order.Select(i => -keys[i]).ToArray();
        Array.Sort(sortKeys, order);

        bool Allowed(int falseAlarms) => 1000.0 * falseAlarms <= falseAlarmsPer1k * total * (1 + 1e-12);
        double best = double.NaN;
        int bestAlarms = 0;
        double max = keys[order[0]];
        if (max < double.PositiveInfinity)
            best = Math.BitIncrement(max); // nothing on: no false alarm

        var on = new bool[total];
        var other = new int[total]; // at a run's ends: the index of its other end
        int segments = 0; // runs of on-steps of length ≥ k
        for (int j = 0; j < order.Length;)
        {
            double value = keys[order[j]];
            for (; j < order.Length && keys[order[j]] == value; j++)
            {
                int i = order[j];
                int left = !first[i] && on[i - 1] ? other[i - 1] : i;
                int right = !last[i] && on[i + 1] ? other[i + 1] : i;
                if (i - left >= persistence)
                    segments--;
                if (right - i >= persistence)
                    segments--;
                if (right - left + 1 >= persistence)
                    segments++;
                other[left] = right;
                other[right] = left;
                on[i] = true;
            }

            if (Allowed(segments))
            {
                best = value;
                bestAlarms = segments;
            }
        }

        return new TunedThreshold(best, double.IsNaN(best) ? 0 : bestAlarms, total);
    }
}
