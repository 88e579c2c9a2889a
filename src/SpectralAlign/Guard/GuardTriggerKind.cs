namespace SpectralAlign;

/// <summary>What made a <see cref="TrainingGuard"/> act.</summary>
public enum GuardTriggerKind
{
    /// <summary>An alert of the monitor (<see cref="SpectralMonitor.CollapseDetected"/>): a layer rule or a run rule.</summary>
    Alert,

    /// <summary>The loss passed to <see cref="TrainingGuard.Step"/> was NaN or infinite.</summary>
    NonFiniteLoss,

    /// <summary>The guard's own loss-spike check (<see cref="TrainingGuardOptions.DetectLossSpikes"/>).</summary>
    LossSpike,

    /// <summary><see cref="TrainingGuard.Trip"/>.</summary>
    Manual,
}
