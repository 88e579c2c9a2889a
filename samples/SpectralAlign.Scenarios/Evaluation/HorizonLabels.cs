namespace SpectralAlign.Scenarios.Evaluation;

/// <summary>
/// The one definition of positive, negative and healthy steps used by the evaluation by horizon.
/// </summary>
/// <remarks>
/// <para>
/// Let E be a run's explosion step (<see cref="GroundTruth"/>; none for a run that does not explode) and F its fork
/// step (<see cref="EvaluationRun.ForkStep"/>; none for a run that was not forked from a healthy parent; E &lt; F makes
/// the record invalid). A run that neither explodes nor runs its planned steps is left out altogether
/// (<see cref="EvaluationRun.Unfinished"/>). For a
/// horizon H, a recorded step t is
/// </para>
/// <list type="bullet">
/// <item><b>excluded</b> when t ≥ E (the explosion has happened; nothing is left to foresee);</item>
/// <item><b>positive</b> when 0 &lt; E − t ≤ H and t ≥ F (a fork's explosion is caused by its trigger, so no step
/// before the fork can foresee it);</item>
/// <item><b>negative</b> otherwise: every step of a run that does not explode, every step before a fork, and the
/// early steps of an exploding run (E − t &gt; H).</item>
/// </list>
/// <para>
/// <b>Healthy steps</b> (the denominator of false alarms per 1,000 healthy steps) are the steps of a run that does
/// not explode (stable runs, lottery survivors, fork controls and triggered forks that survive) and the steps
/// before the fork of a forked run that explodes. The early steps of an exploding run that was not forked are
/// negatives for AUROC and AUPRC but <b>not</b> healthy: that run was already on its way to explode (in the old
/// families its configuration differs from the stable twin's from step 0), so an alarm there is neither a false
/// alarm nor a timely warning. The healthy steps of a run are therefore always a prefix of it: all of it, the steps
/// before F, or none.
/// </para>
/// <para>
/// <b>Judged steps</b> (where a warning counts for the lead) begin at F for a fork and at the ground truth's settling
/// period (<see cref="GroundTruth.SettlingSteps"/>) otherwise: before it the loss is not judged either.
/// </para>
/// </remarks>
public static class HorizonLabels
{
    /// <summary>The horizons the issue asks for, in steps.</summary>
    public static IReadOnlyList<int> Default { get; } = [50, 100, 200];

    /// <summary>Labels one step.</summary>
    /// <param name="step">The step t.</param>
    /// <param name="explosionStep">E, or null when the run does not explode.</param>
    /// <param name="forkStep">F, or null when the run is not a fork.</param>
    /// <param name="horizon">H ≥ 1.</param>
    /// <returns>The label.</returns>
    public static StepLabel Label(long step, long? explosionStep, long? forkStep, int horizon)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(horizon, 1);
        if (explosionStep is not { } e)
            return StepLabel.Negative;
        if (step >= e)
            return StepLabel.Excluded;
        bool beforeFork = forkStep is { } f && step < f;
        return !beforeFork && e - step <= horizon ? StepLabel.Positive : StepLabel.Negative;
    }

    /// <summary>Whether a step is healthy (counts in the false-alarm denominator).</summary>
    /// <param name="step">The step t.</param>
    /// <param name="explosionStep">E, or null.</param>
    /// <param name="forkStep">F, or null.</param>
    /// <returns><c>true</c> for every step of a run that does not explode and for the steps before a fork.</returns>
    public static bool IsHealthy(long step, long? explosionStep, long? forkStep) =>
        explosionStep is null || (forkStep is { } f && step < f && step < explosionStep);

    /// <summary>The first step at which an alarm counts as a warning for the lead: F for a fork, else the ground
    /// truth's settling period.</summary>
    /// <param name="forkStep">F, or null.</param>
    /// <returns>The step.</returns>
    public static long FirstJudgedStep(long? forkStep) => forkStep ?? GroundTruth.SettlingSteps;
}
