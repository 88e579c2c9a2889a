using SpectralAlign.Scenarios.Training;

namespace SpectralAlign.Scenarios.Rescue;

/// <summary>What each <see cref="RescueArmKind"/> sets up: its name in the table, its clipping, its guard options.</summary>
public static class RescueArms
{
    /// <summary>Every arm, in table order.</summary>
    public static IReadOnlyList<RescueArmKind> All { get; } = Enum.GetValues<RescueArmKind>();

    /// <summary>The threshold of the <see cref="RescueArmKind.Clip"/> arm.</summary>
    public const double ClipNorm = 1.0;

    /// <summary>The file-name and table name of an arm.</summary>
    /// <param name="arm">The arm.</param>
    /// <returns>A short kebab-case name.</returns>
    public static string Name(RescueArmKind arm) => arm switch
    {
        RescueArmKind.None => "none",
        RescueArmKind.Clip => "clip-1.0",
        RescueArmKind.AdaptiveClip => "zclip",
        RescueArmKind.StableConfiguration => "stable-config",
        RescueArmKind.ReactiveRollback => "reactive-rollback",
        RescueArmKind.Guard => "guard",
        RescueArmKind.CorrectionOnly => "rank1-on-alert",
        RescueArmKind.Placebo => "placebo",
        RescueArmKind.AlwaysOnMatrixSign => "msign-always",
        RescueArmKind.AlwaysOnSmooth => "pss-always",
        RescueArmKind.OnAlertMatrixSign => "msign-on-alert",
        RescueArmKind.OnAlertSmooth => "pss-on-alert",
        _ => throw new ArgumentOutOfRangeException(nameof(arm), arm, null),
    };

    /// <summary>Whether the arm can undo steps (a run whose kept losses exploded may still be rescued by a later
    /// rollback).</summary>
    /// <param name="arm">The arm.</param>
    /// <returns>True for the reactive rollback, the guard, the placebo and the on-alert remedies.</returns>
    public static bool RollsBack(RescueArmKind arm) =>
        arm is RescueArmKind.ReactiveRollback or RescueArmKind.Guard or RescueArmKind.Placebo or RescueArmKind.OnAlertMatrixSign or RescueArmKind.OnAlertSmooth;

    /// <summary>Whether the arm acts on the guard's own triggers (alerts, non-finite loss, loss spikes): such an arm
    /// runs exactly as <see cref="RescueArmKind.None"/> on a run where the guard never intervened.</summary>
    /// <param name="arm">The arm.</param>
    /// <returns>True for the guard, the rank-one correction and the on-alert remedies.</returns>
    public static bool UsesGuardTriggers(RescueArmKind arm) =>
        arm is RescueArmKind.Guard or RescueArmKind.CorrectionOnly or RescueArmKind.OnAlertMatrixSign or RescueArmKind.OnAlertSmooth;

    /// <summary>The gradient clipping of an arm (null: the scenario's own, which is none for the GPT families).</summary>
    /// <param name="arm">The arm.</param>
    /// <returns>The clipping, or null.</returns>
    public static IGradientClipping? Clipping(RescueArmKind arm) => arm switch
    {
        RescueArmKind.Clip => new NormClipping(ClipNorm),
        RescueArmKind.AdaptiveClip => new AdaptiveClipping(),
        _ => null,
    };

    /// <summary>The guard options of an arm, or null for an arm without a guard (and without a monitor).</summary>
    /// <param name="arm">The arm.</param>
    /// <returns>The options.</returns>
    public static TrainingGuardOptions? GuardOptions(RescueArmKind arm) => arm switch
    {
        RescueArmKind.Guard => new TrainingGuardOptions(),
        RescueArmKind.ReactiveRollback => new TrainingGuardOptions { ActOnAlerts = false, DetectLossSpikes = false },
        RescueArmKind.Placebo => new TrainingGuardOptions { ActOnAlerts = false, DetectLossSpikes = false, ActOnNonFiniteLoss = false },
        RescueArmKind.CorrectionOnly => new TrainingGuardOptions { Rollback = false, LearningRateFactor = 1, Correction = SpectralCorrection.Rank1, CorrectAllOnRunTrigger = true },
        RescueArmKind.OnAlertMatrixSign => new TrainingGuardOptions { Correction = SpectralCorrection.MatrixSign, CorrectAllOnRunTrigger = true },
        RescueArmKind.OnAlertSmooth => new TrainingGuardOptions { Correction = SpectralCorrection.Smooth, CorrectAllOnRunTrigger = true },
        RescueArmKind.AlwaysOnMatrixSign => AlwaysOn(SpectralCorrection.MatrixSign),
        RescueArmKind.AlwaysOnSmooth => AlwaysOn(SpectralCorrection.Smooth),
        _ => null,
    };

    private static TrainingGuardOptions AlwaysOn(SpectralCorrection correction) =>
        new() { ActOnAlerts = false, ActOnNonFiniteLoss = false, DetectLossSpikes = false, ScheduledCorrection = correction };
}
