namespace SpectralAlign.Scenarios.Rescue;

/// <summary>One arm over the evaluated cases (see <see cref="RescueSummary.Summarise"/> for each definition).</summary>
public sealed record ArmSummary
{
    /// <summary>The arm.</summary>
    public required RescueArmKind Arm { get; init; }

    /// <summary>Cases.</summary>
    public required int Runs { get; init; }

    /// <summary>Cases whose kept losses reached the budget without an explosion.</summary>
    public required int Finished { get; init; }

    /// <summary>Cases whose unguarded (<see cref="RescueArmKind.None"/>) run exploded.</summary>
    public required int ExplodingRuns { get; init; }

    /// <summary>Exploding cases this arm brought to the end of the budget.</summary>
    public required int Rescued { get; init; }

    /// <summary>Exploding cases this arm brought to the end with a final loss ≤ <see cref="RescueSummary.LossTolerance"/>
    /// × the stable configuration's (issue 12's target).</summary>
    public required int RescuedWithinTolerance { get; init; }

    /// <summary>Median over finished cases of final loss / the stable configuration's final loss (NaN when none
    /// finished).</summary>
    public required double MedianLossRatio { get; init; }

    /// <summary>Cases whose unguarded run did not explode.</summary>
    public required int StableRuns { get; init; }

    /// <summary>Interventions made on those cases.</summary>
    public required int InterventionsOnStable { get; init; }

    /// <summary>Those cases with at least one intervention.</summary>
    public required int StableRunsIntervened { get; init; }

    /// <summary>Mean over stable cases this arm also finished of (final loss / the unguarded final loss − 1); NaN
    /// without any.</summary>
    public required double MeanLossChangeOnStable { get; init; }

    /// <summary>Stable cases this arm did not finish (it broke a run that was fine).</summary>
    public required int StableRunsBroken { get; init; }

    /// <summary>Steps recomputed over all cases.</summary>
    public required long StepsRecomputed { get; init; }

    /// <summary>Interventions over all cases.</summary>
    public required int Interventions { get; init; }

    /// <summary>Layer corrections applied on interventions over all cases.</summary>
    public required int CorrectionsApplied { get; init; }

    /// <summary>Steps executed over all cases.</summary>
    public required long StepsExecuted { get; init; }

    /// <summary>Wall seconds of the cells actually run (derived cells excluded).</summary>
    public required double WallSeconds { get; init; }

    /// <summary>Cells copied from another arm instead of run.</summary>
    public required int DerivedCells { get; init; }

    /// <summary>Median over the cases run (not derived) of this arm's time per executed step / the unguarded run's,
    /// minus 1 (NaN without any).</summary>
    public required double StepTimeOverhead { get; init; }
}
