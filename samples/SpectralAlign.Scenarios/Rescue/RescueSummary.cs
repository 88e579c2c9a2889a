using MathNet.Numerics.Statistics;

namespace SpectralAlign.Scenarios.Rescue;

/// <summary>Aggregates the cells of a rescue evaluation per arm.</summary>
public static class RescueSummary
{
    /// <summary>Issue 12's tolerance: a rescued run's final loss at most this multiple of the stable configuration's.</summary>
    public const double LossTolerance = 1.05;

    /// <summary>Summarises each arm over the cases.</summary>
    /// <param name="cases">Per case, every arm's result (<see cref="RescueArmKind.StableConfiguration"/> included).</param>
    /// <param name="arms">The arms to summarise, in order (null: all).</param>
    /// <returns>One summary per arm.</returns>
    /// <remarks>
    /// A case is <i>exploding</i> when its <see cref="RescueArmKind.None"/> run did not finish and <i>stable</i>
    /// otherwise. Final-loss ratios compare an arm's final loss (mean of the last 50 kept steps) with the same case's
    /// stable configuration; the loss change on stable cases compares with the same case's unguarded run. Step-time
    /// overhead: the median over cases run by this arm (not derived) of its seconds per executed step over the
    /// unguarded run's, minus one.
    /// </remarks>
    public static IReadOnlyList<ArmSummary> Summarise(IReadOnlyList<(RescueCase Case, IReadOnlyDictionary<RescueArmKind, RescueResult> Arms)> cases, IEnumerable<RescueArmKind>? arms = null)
    {
        ArgumentNullException.ThrowIfNull(cases);
        return (arms ?? RescueArms.All).Select(arm =>
        {
            var rows = cases.Select(c => (None: c.Arms[RescueArmKind.None], Stable: c.Arms[RescueArmKind.StableConfiguration], Arm: c.Arms[arm])).ToList();
            var exploding = rows.Where(r => !r.None.Finished).ToList();
            var stable = rows.Where(r => r.None.Finished).ToList();
            var ratios = rows.Where(r => r.Arm.Finished && r.Stable.Finished).Select(r => r.Arm.FinalLoss / r.Stable.FinalLoss).ToList();
            var changes = stable.Where(r => r.Arm.Finished).Select(r => r.Arm.FinalLoss / r.None.FinalLoss - 1).ToList();
            var run = rows.Where(r => r.Arm.DerivedFrom is null).ToList();
            var overheads = run.Where(r => r.None.StepsExecuted > 0).Select(r => r.Arm.StepSeconds / r.None.StepSeconds - 1).ToList();
            return new ArmSummary
            {
                Arm = arm,
                Runs = rows.Count,
                Finished = rows.Count(r => r.Arm.Finished),
                ExplodingRuns = exploding.Count,
                Rescued = exploding.Count(r => r.Arm.Finished),
                RescuedWithinTolerance = exploding.Count(r => r.Arm.Finished && r.Stable.Finished && r.Arm.FinalLoss <= LossTolerance * r.Stable.FinalLoss),
                MedianLossRatio = ratios.Count > 0 ? ratios.Median() : double.NaN,
                StableRuns = stable.Count,
                InterventionsOnStable = stable.Sum(r => r.Arm.Interventions),
                StableRunsIntervened = stable.Count(r => r.Arm.Interventions > 0),
                MeanLossChangeOnStable = changes.Count > 0 ? changes.Average() : double.NaN,
                StableRunsBroken = stable.Count(r => !r.Arm.Finished),
                StepsRecomputed = rows.Sum(r => r.Arm.StepsRecomputed),
                Interventions = rows.Sum(r => r.Arm.Interventions),
                CorrectionsApplied = rows.Sum(r => r.Arm.CorrectionsApplied),
                StepsExecuted = rows.Sum(r => r.Arm.StepsExecuted),
                WallSeconds = run.Sum(r => r.Arm.WallSeconds),
                DerivedCells = rows.Count - run.Count,
                StepTimeOverhead = overheads.Count > 0 ? overheads.Median() : double.NaN,
            };
        }).ToList();
    }
}
