namespace SpectralAlign.Scenarios.Evaluation;

/// <summary>
/// Alarms from a score series and what they count for: false alarms, warnings within the horizon, lead.
/// </summary>
/// <remarks>
/// <para>
/// <b>Alarm.</b> With threshold θ and persistence k, the alarm is <i>active</i> at recorded step i when the score was
/// ≥ θ at the k consecutive recorded steps i−k+1 … i (a NaN score is never ≥ θ). A detector may instead supply its own
/// active series (<see cref="ScoreSeries.Alarms"/>).
/// </para>
/// <para>
/// <b>False alarm.</b> An alarm <i>onset</i> (an active step whose predecessor is not active) at a healthy step
/// (<see cref="HorizonLabels.IsHealthy"/>). A detector that stays on counts once; one that flickers counts every
/// time it comes back. Rate: 1,000 × onsets / healthy steps (recorded training steps, not measurements).
/// </para>
/// <para>
/// <b>Warned within H.</b> An exploding run is warned within H when the alarm is active at one or more of its positive
/// steps (0 &lt; E − t ≤ H, not before a fork). Runs without positive steps are left out of the share.
/// </para>
/// <para>
/// <b>Lead.</b> E − t for the first judged step t (from the fork, or from the ground truth's settling period; see
/// <see cref="HorizonLabels.FirstJudgedStep"/>) before E at which the alarm is active. It does not depend on H; an
/// exploding run without such a step has no lead.
/// </para>
/// </remarks>
public static class Alarms
{
    /// <summary>The active series of a thresholded score.</summary>
    /// <param name="scores">The score per recorded step.</param>
    /// <param name="threshold">θ (NaN: never active).</param>
    /// <param name="persistence">k ≥ 1.</param>
    /// <returns>Active per recorded step.</returns>
    public static bool[] Active(IReadOnlyList<double> scores, double threshold, int persistence)
    {
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentOutOfRangeException.ThrowIfLessThan(persistence, 1);
        var active = new bool[scores.Count];
        int streak = 0;
        for (int i = 0; i < active.Length; i++)
        {
            streak = scores[i] >= threshold ? streak + 1 : 0;
            active[i] = streak >= persistence;
        }

        return active;
    }

    /// <summary>Alarm onsets among the first <paramref name="count"/> recorded steps.</summary>
    /// <param name="active">The active series.</param>
    /// <param name="count">How many leading steps to look at (a run's healthy steps).</param>
    /// <returns>The number of onsets.</returns>
    public static int Onsets(IReadOnlyList<bool> active, int count)
    {
        ArgumentNullException.ThrowIfNull(active);
        int onsets = 0;
        for (int i = 0; i < count; i++)
        {
            if (active[i] && (i == 0 || !active[i - 1]))
                onsets++;
        }

        return onsets;
    }

    /// <summary>Whether the alarm is active at one or more positive steps.</summary>
    /// <param name="active">The active series.</param>
    /// <param name="labels">The labels at the horizon.</param>
    /// <returns><c>true</c> when warned within the horizon.</returns>
    public static bool Warned(IReadOnlyList<bool> active, IReadOnlyList<StepLabel> labels)
    {
        ArgumentNullException.ThrowIfNull(active);
        ArgumentNullException.ThrowIfNull(labels);
        for (int i = 0; i < labels.Count; i++)
        {
            if (labels[i] == StepLabel.Positive && active[i])
                return true;
        }

        return false;
    }

    /// <summary>Whether the alarm is active at one or more positive steps at least <paramref name="minimumLead"/> steps
    /// before the explosion (0 &lt; E − t ≤ H and E − t ≥ the minimum lead): warned within H and early enough to act.</summary>
    /// <param name="run">The run (its steps and E).</param>
    /// <param name="active">The active series.</param>
    /// <param name="labels">The labels at the horizon.</param>
    /// <param name="minimumLead">The smallest E − t that counts.</param>
    /// <returns><c>true</c> when warned within the horizon at least that far ahead.</returns>
    public static bool WarnedAhead(EvaluationRun run, IReadOnlyList<bool> active, IReadOnlyList<StepLabel> labels, int minimumLead)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(active);
        ArgumentNullException.ThrowIfNull(labels);
        if (run.ExplosionStep is not { } e)
            return false;
        for (int i = 0; i < labels.Count; i++)
        {
            if (labels[i] == StepLabel.Positive && active[i] && e - run.Steps[i] >= minimumLead)
                return true;
        }

        return false;
    }

    /// <summary>The lead of an exploding run (see the remarks).</summary>
    /// <param name="run">The run.</param>
    /// <param name="active">The active series, aligned with <see cref="EvaluationRun.Steps"/>.</param>
    /// <returns>E − t, or null (no explosion, or no alarm between the first judged step and E).</returns>
    public static long? Lead(EvaluationRun run, IReadOnlyList<bool> active)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(active);
        if (run.ExplosionStep is not { } e)
            return null;
        long first = HorizonLabels.FirstJudgedStep(run.ForkStep);
        for (int i = 0; i < run.Steps.Count && run.Steps[i] < e; i++)
        {
            if (run.Steps[i] >= first && active[i])
                return e - run.Steps[i];
        }

        return null;
    }
}
