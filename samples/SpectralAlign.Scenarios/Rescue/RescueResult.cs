namespace SpectralAlign.Scenarios.Rescue;

/// <summary>One arm on one case: the outcome the rescue table aggregates (saved as JSON, one file per cell).</summary>
public sealed record RescueResult
{
    /// <summary>Scenario name.</summary>
    public required string Scenario { get; init; }

    /// <summary>Configuration with overrides (<see cref="RescueCase.Label"/>).</summary>
    public required string Label { get; init; }

    /// <summary>Seed.</summary>
    public required int Seed { get; init; }

    /// <summary>Arm name (<see cref="RescueArms.Name"/>).</summary>
    public required string Arm { get; init; }

    /// <summary>The budget: steps the configuration plans.</summary>
    public required long Budget { get; init; }

    /// <summary>Whether the kept loss series reached the budget without a ground-truth explosion.</summary>
    public required bool Finished { get; init; }

    /// <summary>Ground-truth explosion step of the kept series, or null.</summary>
    public long? ExplosionStep { get; init; }

    /// <summary>Optimizer steps executed, recomputed ones included.</summary>
    public required long StepsExecuted { get; init; }

    /// <summary>Steps executed whose results a rollback discarded (executed − kept).</summary>
    public required long StepsRecomputed { get; init; }

    /// <summary>Mean of the last 50 kept losses (NaN unless <see cref="Finished"/>).</summary>
    public required double FinalLoss { get; init; }

    /// <summary>The guard's interventions (0 without a guard; scheduled corrections are not interventions).</summary>
    public int Interventions { get; init; }

    /// <summary>Interventions that rolled back.</summary>
    public int Rollbacks { get; init; }

    /// <summary>Layer corrections applied on interventions (not the scheduled ones).</summary>
    public int CorrectionsApplied { get; init; }

    /// <summary>Whether the guard ran out of interventions.</summary>
    public bool Exhausted { get; init; }

    /// <summary>Each intervention as the guard describes it, with the data step it happened at.</summary>
    public IReadOnlyList<string> InterventionLog { get; init; } = [];

    /// <summary>Seconds in the training loop (guard and monitor included).</summary>
    public required double TrainSeconds { get; init; }

    /// <summary>Seconds of the whole cell (setup included).</summary>
    public required double WallSeconds { get; init; }

    /// <summary>The arm whose run this cell copies when it runs identically by construction (see
    /// <see cref="RescueEvaluation"/>), else null.</summary>
    public string? DerivedFrom { get; init; }

    /// <summary>The commit the cell was computed from.</summary>
    public string Commit { get; init; } = "";

    /// <summary>Seconds per executed step.</summary>
    public double StepSeconds => StepsExecuted > 0 ? TrainSeconds / StepsExecuted : double.NaN;
}
