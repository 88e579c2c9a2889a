using System.Globalization;

namespace SpectralAlign;

/// <summary>
/// Settings of a <see cref="TrainingGuard"/>: when it takes snapshots, what makes it act, and what it does. Plain
/// settable properties with their defaults declared here; the guard validates them (listing every problem at once)
/// and keeps a copy, so changing the object afterwards has no effect on a running guard.
/// </summary>
/// <remarks>
/// The default policy, on a trigger: roll back to the newest snapshot at least <see cref="RollbackMargin"/> steps older
/// than the start of the trouble, halve the learning rate, hold it for <see cref="LearningRateHoldSteps"/> steps and
/// bring it back to where it was over <see cref="LearningRateRecoverySteps"/> steps; no spectral correction; at most
/// <see cref="MaxInterventions"/> interventions.
/// </remarks>
public sealed class TrainingGuardOptions
{
    /// <summary>Take a snapshot every <c>SnapshotInterval</c>-th step (after that step's update) while no episode is
    /// open. Default <c>50</c>.</summary>
    public int SnapshotInterval { get; set; } = 50;

    /// <summary>Snapshots kept; the oldest is released when a new one is taken. Default <c>4</c>.</summary>
    public int SnapshotCount { get; set; } = 4;

    /// <summary>Where the parameter and buffer copies live (the optimizer state is always in host memory). Default
    /// <see cref="SnapshotLocation.Host"/>.</summary>
    public SnapshotLocation SnapshotLocation { get; set; } = SnapshotLocation.Host;

    /// <summary>Act on the monitor's alerts (<see cref="SpectralMonitor.CollapseDetected"/>, layer and run rules).
    /// Default <c>true</c>.</summary>
    public bool ActOnAlerts { get; set; } = true;

    /// <summary>Act when the loss passed to <see cref="TrainingGuard.Step"/> is NaN or infinite. Default <c>true</c>.</summary>
    public bool ActOnNonFiniteLoss { get; set; } = true;

    /// <summary>The guard's own loss-spike check: a loss L is a spike when, against the median M and the median absolute
    /// deviation MAD of the last <see cref="LossSpikeWindow"/> losses that were not spikes, both
    /// L − M &gt; (<see cref="LossSpikeFactor"/> − 1)·|M| and L − M &gt; <see cref="LossSpikeDeviations"/>·1.4826·MAD.
    /// It judges only once the window is full. Default <c>true</c>.</summary>
    public bool DetectLossSpikes { get; set; } = true;

    /// <summary>Losses the spike check compares against. Default <c>50</c>.</summary>
    public int LossSpikeWindow { get; set; } = 50;

    /// <summary>A spike is at least this many times the recent median (for a positive loss). Default <c>2</c>.</summary>
    public double LossSpikeFactor { get; set; } = 2;

    /// <summary>… and this many robust standard deviations (1.4826·MAD) above it. Default <c>6</c>.</summary>
    public double LossSpikeDeviations { get; set; } = 6;

    /// <summary>On a trigger, restore the model and optimizer from a snapshot. Default <c>true</c>.</summary>
    public bool Rollback { get; set; } = true;

    /// <summary>Roll back to the newest snapshot at least this many steps older than the start of the episode (an
    /// alert's <see cref="CollapseAlert.EpisodeStartStep"/>, else the trigger's step); without one, to the oldest
    /// snapshot older than the start; without that, no rollback. Default <c>50</c>.</summary>
    public int RollbackMargin { get; set; } = 50;

    /// <summary>On a trigger, multiply the learning-rate factor in force by this (1 = no back-off). Default
    /// <c>0.5</c>.</summary>
    public double LearningRateFactor { get; set; } = 0.5;

    /// <summary>Repeated back-offs never take the factor below this. Default <c>1/64</c>.</summary>
    public double MinLearningRateScale { get; set; } = 1.0 / 64;

    /// <summary>Steps the reduced factor is held before it starts to recover. Default <c>100</c>.</summary>
    public int LearningRateHoldSteps { get; set; } = 100;

    /// <summary>Steps of the geometric ramp from the reduced factor back to 1 (0: straight back to 1 after the hold).
    /// Default <c>400</c>.</summary>
    public int LearningRateRecoverySteps { get; set; } = 400;

    /// <summary>Spectral correction of each alerting layer on an intervention. Default
    /// <see cref="SpectralCorrection.None"/>.</summary>
    public SpectralCorrection Correction { get; set; } = SpectralCorrection.None;

    /// <summary>Also correct the attention partner of an alerting layer: <c>….k</c> for <c>….q</c> and the reverse
    /// (the two factors of the query-key product). Default <c>true</c>.</summary>
    public bool CorrectAttentionPartner { get; set; } = true;

    /// <summary>When an intervention has no alerting layer (its triggers are a loss spike, a non-finite loss, a run
    /// rule or <see cref="TrainingGuard.Trip"/>), apply <see cref="Correction"/> to every watched layer instead of to
    /// none. Default <c>false</c>.</summary>
    public bool CorrectAllOnRunTrigger { get; set; }

    /// <summary>What a spectral correction (on an intervention or scheduled) does to the corrected elements' optimizer
    /// state. Default <see cref="MomentPolicy.Keep"/>.</summary>
    public MomentPolicy Moments { get; set; } = MomentPolicy.Keep;

    /// <summary>First-moment factor of <see cref="MomentPolicy.Rescale"/>, in [0, 1]. Default <c>0.1</c>.</summary>
    public double MomentScale { get; set; } = 0.1;

    /// <summary>k, the number of top singular values <see cref="SpectralCorrection.Smooth"/> moves (layers with
    /// min(m, n) ≤ k are left alone). Default <c>4</c>.</summary>
    public int SmoothingRank { get; set; } = 4;

    /// <summary>What <see cref="SpectralCorrection.Smooth"/> moves them towards. Default
    /// <see cref="SmoothingTarget.NextSingularValue"/>.</summary>
    public SmoothingTarget SmoothingTarget { get; set; } = SmoothingTarget.NextSingularValue;

    /// <summary>α in (0, 1]: σᵢ ← σᵢ − α·(σᵢ − target) for the top k above the target (1 flattens them onto it).
    /// Default <c>1</c>.</summary>
    public double SmoothingStrength { get; set; } = 1;

    /// <summary>λ in (0, 1] of <see cref="SpectralCorrection.MatrixSign"/>: W ← (1 − λ)·W + λ·(polar factor scaled to
    /// ‖W‖_F), then rescaled to ‖W‖_F (1: the full matrix-sign step). Default <c>1</c>.</summary>
    public double MatrixSignMix { get; set; } = 1;

    /// <summary>An always-on remedy, the papers' way: applied to every watched layer every
    /// <see cref="ScheduleInterval"/> steps, whatever the alerts. Default <see cref="SpectralCorrection.None"/>
    /// (<see cref="SpectralCorrection.Rank1"/> is not schedulable: it has no target without an alert).</summary>
    public SpectralCorrection ScheduledCorrection { get; set; } = SpectralCorrection.None;

    /// <summary>Steps between scheduled corrections (applied after the update of every <c>ScheduleInterval</c>-th step).
    /// Default <c>100</c>.</summary>
    public int ScheduleInterval { get; set; } = 100;

    /// <summary>Interventions after which the guard stops intervening (raising <see cref="TrainingGuard.Exhausted"/> and
    /// logging an error once) instead of looping. Default <c>5</c>.</summary>
    public int MaxInterventions { get; set; } = 5;

    /// <summary>Steps after an intervention during which new triggers other than a non-finite loss are ignored (the
    /// loss and alerts right after a rollback belong to the abandoned trajectory). Default <c>20</c>.</summary>
    public int CooldownSteps { get; set; } = 20;

    /// <summary>An episode (during which no snapshot is taken) closes after this many steps without a trigger. Default
    /// <c>100</c>.</summary>
    public int QuietSteps { get; set; } = 100;

    /// <summary>Lists every problem with these options; empty when they are valid.</summary>
    /// <returns>The problems, one sentence each.</returns>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        void Require(bool ok, string name, string rule, object value)
        {
            if (!ok)
                problems.Add(string.Create(CultureInfo.InvariantCulture, $"{name} must be {rule} (was {value})."));
        }

        Require(SnapshotInterval >= 1, nameof(SnapshotInterval), ">= 1", SnapshotInterval);
        Require(SnapshotCount >= 1, nameof(SnapshotCount), ">= 1", SnapshotCount);
        Require(Enum.IsDefined(SnapshotLocation), nameof(SnapshotLocation), "a defined value", SnapshotLocation);
        Require(LossSpikeWindow >= 5, nameof(LossSpikeWindow), ">= 5", LossSpikeWindow);
        Require(LossSpikeFactor > 1 && double.IsFinite(LossSpikeFactor), nameof(LossSpikeFactor), "finite and > 1", LossSpikeFactor);
        Require(LossSpikeDeviations > 0 && double.IsFinite(LossSpikeDeviations), nameof(LossSpikeDeviations), "finite and > 0", LossSpikeDeviations);
        Require(RollbackMargin >= 0, nameof(RollbackMargin), ">= 0", RollbackMargin);
        Require(LearningRateFactor > 0 && LearningRateFactor <= 1, nameof(LearningRateFactor), "in (0, 1]", LearningRateFactor);
        Require(MinLearningRateScale > 0 && MinLearningRateScale <= 1, nameof(MinLearningRateScale), "in (0, 1]", MinLearningRateScale);
        Require(LearningRateHoldSteps >= 0, nameof(LearningRateHoldSteps), ">= 0", LearningRateHoldSteps);
        Require(LearningRateRecoverySteps >= 0, nameof(LearningRateRecoverySteps), ">= 0", LearningRateRecoverySteps);
        Require(Enum.IsDefined(Correction), nameof(Correction), "a defined value", Correction);
        Require(Enum.IsDefined(Moments), nameof(Moments), "a defined value", Moments);
        Require(MomentScale >= 0 && MomentScale <= 1, nameof(MomentScale), "in [0, 1]", MomentScale);
        Require(SmoothingRank >= 1, nameof(SmoothingRank), ">= 1", SmoothingRank);
        Require(Enum.IsDefined(SmoothingTarget), nameof(SmoothingTarget), "a defined value", SmoothingTarget);
        Require(SmoothingStrength > 0 && SmoothingStrength <= 1, nameof(SmoothingStrength), "in (0, 1]", SmoothingStrength);
        Require(MatrixSignMix > 0 && MatrixSignMix <= 1, nameof(MatrixSignMix), "in (0, 1]", MatrixSignMix);
        Require(Enum.IsDefined(ScheduledCorrection) && ScheduledCorrection != SpectralCorrection.Rank1, nameof(ScheduledCorrection),
            "None, Smooth or MatrixSign", ScheduledCorrection);
        Require(ScheduleInterval >= 1, nameof(ScheduleInterval), ">= 1", ScheduleInterval);
        Require(MaxInterventions >= 0, nameof(MaxInterventions), ">= 0", MaxInterventions);
        Require(CooldownSteps >= 0, nameof(CooldownSteps), ">= 0", CooldownSteps);
        Require(QuietSteps >= 1, nameof(QuietSteps), ">= 1", QuietSteps);
        return problems;
    }

    /// <summary>A copy.</summary>
    /// <returns>The copy.</returns>
    public TrainingGuardOptions Clone() => (TrainingGuardOptions)MemberwiseClone();
}
