namespace SpectralAlign;

/// <summary>What a <see cref="TrainingGuard"/> did about a trigger; raised through <see cref="TrainingGuard.Intervened"/>
/// (and, once, <see cref="TrainingGuard.Exhausted"/>). Immutable.</summary>
public sealed class GuardIntervention
{
    /// <summary>1 for the first intervention, 2 for the second, …; for <see cref="GuardAction.Exhausted"/> the number
    /// of interventions made.</summary>
    public int Number { get; init; }

    /// <summary>The step on which the guard acted.</summary>
    public long Step { get; init; }

    /// <summary>What the guard did.</summary>
    public GuardAction Action { get; init; }

    /// <summary>Why: every trigger of the step (at least one).</summary>
    public IReadOnlyList<GuardTrigger> Triggers { get; init; } = [];

    /// <summary>The earliest start among the triggers and the episode already open.</summary>
    public long EpisodeStartStep { get; init; }

    /// <summary>The step of the snapshot restored, or <c>null</c> without a rollback.</summary>
    public long? RestoredSnapshotStep { get; init; }

    /// <summary>Optimizer steps undone by the rollback (0 without one).</summary>
    public long StepsUndone => RestoredSnapshotStep is { } s ? Step - s : 0;

    /// <summary>The learning-rate factor in force after the intervention.</summary>
    public double LearningRateScale { get; init; } = 1;

    /// <summary>The spectral corrections made (empty when none was configured or no layer alerted).</summary>
    public IReadOnlyList<LayerCorrection> Corrections { get; init; } = [];

    /// <summary>What went differently from the policy (no snapshot old enough, a failed rollback, …), or <c>null</c>.</summary>
    public string? Problem { get; init; }

    /// <inheritdoc />
    public override string ToString() =>
        FormattableString.Invariant($"#{Number} at step {Step}: {Action} ({string.Join(", ", Triggers.Select(t => $"{t.Reason}@{t.Layer}"))})")
        + (RestoredSnapshotStep is { } s ? FormattableString.Invariant($", restored step {s}") : "")
        + FormattableString.Invariant($", lr×{LearningRateScale:G3}")
        + (Problem is null ? "" : $"; {Problem}");
}
