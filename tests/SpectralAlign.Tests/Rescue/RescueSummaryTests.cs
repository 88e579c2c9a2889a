using SpectralAlign.Scenarios.Rescue;

namespace SpectralAlign.Tests.Rescue;

/// <summary>The per-arm aggregation of the rescue table, on hand-made cells with hand-computed expectations.</summary>
public sealed class RescueSummaryTests
{
    private static RescueResult Cell(string arm, bool finished, double final, long executed = 1000, long recomputed = 0, int interventions = 0, int corrections = 0, double seconds = 10, string? derived = null) => new()
    {
        Scenario = "s",
        Label = "c",
        Seed = 1,
        Arm = arm,
        Budget = 1000,
        Finished = finished,
        ExplosionStep = finished ? null : 500,
        StepsExecuted = executed,
        StepsRecomputed = recomputed,
        FinalLoss = finished ? final : double.NaN,
        Interventions = interventions,
        CorrectionsApplied = corrections,
        TrainSeconds = seconds,
        WallSeconds = seconds + 1,
        DerivedFrom = derived,
    };

    /// <summary>Case A explodes unguarded (stable config 1.00); case B does not (unguarded 2.00, stable config 1.90);
    /// case C explodes (stable config 1.00).</summary>
    private static List<(RescueCase, IReadOnlyDictionary<RescueArmKind, RescueResult>)> Cases()
    {
        var rc = new RescueCase("s", "c", 1, [], null);
        IReadOnlyDictionary<RescueArmKind, RescueResult> Arms(RescueResult none, RescueResult stable, RescueResult guard) =>
            new Dictionary<RescueArmKind, RescueResult> { [RescueArmKind.None] = none, [RescueArmKind.StableConfiguration] = stable, [RescueArmKind.Guard] = guard };
        return
        [
            (rc, Arms(Cell("none", false, 0, executed: 500, seconds: 5), Cell("stable-config", true, 1.00), Cell("guard", true, 1.04, executed: 1150, recomputed: 150, interventions: 2, corrections: 3, seconds: 12.65))),
            (rc, Arms(Cell("none", true, 2.00), Cell("stable-config", true, 1.90), Cell("guard", true, 2.20, executed: 1000, interventions: 1, seconds: 11))),
            (rc, Arms(Cell("none", false, 0, executed: 400, seconds: 4), Cell("stable-config", true, 1.00), Cell("guard", true, 1.10, executed: 1300, recomputed: 300, interventions: 1, seconds: 13, derived: "none"))),
        ];
    }

    [Fact]
    public void Summarise_HandMadeCells_GivesTheHandComputedFigures()
    {
        var s = RescueSummary.Summarise(Cases(), [RescueArmKind.Guard]).Single();
        Assert.Equal(3, s.Runs);
        Assert.Equal(3, s.Finished);
        Assert.Equal(2, s.ExplodingRuns);                 // A and C
        Assert.Equal(2, s.Rescued);
        Assert.Equal(1, s.RescuedWithinTolerance);        // A: 1.04 ≤ 1.05 × 1.00; C: 1.10 > 1.05
        // Ratios to the stable config: A 1.04, B 2.20 / 1.90 = 1.1579, C 1.10 → median 1.10.
        Assert.Equal(1.10, s.MedianLossRatio, 12);
        Assert.Equal(1, s.StableRuns);
        Assert.Equal(1, s.StableRunsIntervened);
        Assert.Equal(1, s.InterventionsOnStable);
        Assert.Equal(0.10, s.MeanLossChangeOnStable, 12); // 2.20 / 2.00 − 1
        Assert.Equal(0, s.StableRunsBroken);
        Assert.Equal(450, s.StepsRecomputed);
        Assert.Equal(4, s.Interventions);
        Assert.Equal(3, s.CorrectionsApplied);
        Assert.Equal(3450, s.StepsExecuted);
        Assert.Equal(13.65 + 12, s.WallSeconds, 9);        // C is derived: not counted
        Assert.Equal(1, s.DerivedCells);
        // Step time over none's, cases run only: A (12.65/1150) / (5/500) − 1 = 0.10; B (11/1000)/(10/1000) − 1 = 0.10.
        Assert.Equal(0.10, s.StepTimeOverhead, 9);
    }

    [Fact]
    public void Summarise_AnArmThatBreaksAStableRun_CountsIt_AndLeavesItOutOfTheLossChange()
    {
        var cases = Cases();
        var (rc, arms) = cases[1];
        cases[1] = (rc, new Dictionary<RescueArmKind, RescueResult>(arms) { [RescueArmKind.Guard] = Cell("guard", false, 0, executed: 700) });
        var s = RescueSummary.Summarise(cases, [RescueArmKind.Guard]).Single();
        Assert.Equal(1, s.StableRunsBroken);
        Assert.True(double.IsNaN(s.MeanLossChangeOnStable));
        Assert.Equal(2, s.Finished);
    }

    [Fact]
    public void BenchmarkOverheadPercent_OnAlert_IsCorrectionsPerStepTimesOneLayersShareOfTheAlwaysOnCost()
    {
        var summary = RescueSummary.Summarise(Cases(), [RescueArmKind.Guard]).Single() with { Arm = RescueArmKind.OnAlertMatrixSign };
        // 3 corrections in 3,450 steps × (1.9% × 100 / 29 layers) = 0.0570%.
        Assert.Equal(3.0 / 3450 * 1.9 * 100 / 29, RescueReport.BenchmarkOverheadPercent(summary), 12);
        Assert.Equal(1.9, RescueReport.BenchmarkOverheadPercent(summary with { Arm = RescueArmKind.AlwaysOnMatrixSign }));
        Assert.True(double.IsNaN(RescueReport.BenchmarkOverheadPercent(summary with { Arm = RescueArmKind.Guard })));
    }
}
