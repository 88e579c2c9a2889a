namespace SpectralAlign;

/// <summary>What <see cref="TrainingGuard.Step"/> did on a step.</summary>
public enum GuardAction
{
    /// <summary>Nothing to do (a snapshot or a scheduled correction may have been taken): train on.</summary>
    Continue,

    /// <summary>The model and optimizer were rolled back to a snapshot (and the learning rate and weights adjusted as
    /// the policy says). The step's loss and gradients belong to the abandoned trajectory.</summary>
    RolledBack,

    /// <summary>The guard intervened without a rollback: a learning-rate back-off and/or a spectral correction.</summary>
    Adjusted,

    /// <summary>A trigger fired but <see cref="TrainingGuardOptions.MaxInterventions"/> interventions have already been
    /// made: the guard no longer intervenes (it logged an error and raised <see cref="TrainingGuard.Exhausted"/> the
    /// first time). Stop the run or decide yourself.</summary>
    Exhausted,
}
