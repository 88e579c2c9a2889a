namespace SpectralAlign.Scenarios.Rescue;

/// <summary>The arms of the rescue evaluation (issues 12 and 14): what, if anything, tries to keep a run alive.</summary>
public enum RescueArmKind
{
    /// <summary>No intervention: the scenario as configured.</summary>
    None,

    /// <summary>Global gradient-norm clipping at 1.0.</summary>
    Clip,

    /// <summary>ZClip-style adaptive clipping (<see cref="Training.AdaptiveClipping"/> with the paper's defaults).</summary>
    AdaptiveClip,

    /// <summary>The stable configuration from the start: the case's reference run (a lower learning rate, or the
    /// fork's untriggered control).</summary>
    StableConfiguration,

    /// <summary>Rollback and learning-rate back-off with the guard's default policy, triggered only by the ground-truth
    /// loss rule (<see cref="GroundTruth"/>) on the kept loss series: the bar an early warning must beat.</summary>
    ReactiveRollback,

    /// <summary><see cref="TrainingGuard"/> with its default options and the monitor's default options.</summary>
    Guard,

    /// <summary>Spectral correction alone: the guard's triggers, but the only action a rank-one correction
    /// (<see cref="SpectralCorrection.Rank1"/>, σ₁ back to its value in the newest snapshot old enough) of the alerting
    /// layers, or of every watched layer when the trigger names none: no rollback, no learning-rate back-off.</summary>
    CorrectionOnly,

    /// <summary>The guard's default actions (rollback, back-off) at random steps, as many as the guard made on the same
    /// run (<see cref="PlaceboSchedule"/>); no other trigger.</summary>
    Placebo,

    /// <summary>MSign's matrix-sign step on every watched layer every 100 steps, whatever happens.</summary>
    AlwaysOnMatrixSign,

    /// <summary>PSS-like smoothing on every watched layer every 100 steps, whatever happens.</summary>
    AlwaysOnSmooth,

    /// <summary>The guard's default policy (rollback, back-off) plus the matrix-sign step on the alerting layers (and
    /// their q/k partner), or on every watched layer when the trigger names none.</summary>
    OnAlertMatrixSign,

    /// <summary>The guard's default policy (rollback, back-off) plus PSS-like smoothing on the alerting layers (and
    /// their q/k partner), or on every watched layer when the trigger names none.</summary>
    OnAlertSmooth,
}
