namespace SpectralAlign.Guard;

/// <summary>What the guard does with a step's triggers (see <see cref="InterventionPolicy.Decide"/>).</summary>
internal enum TriggerDecision
{
    /// <summary>Intervene (roll back, back off, correct).</summary>
    Intervene,

    /// <summary>Ignore them: the last intervention is too recent and none is urgent.</summary>
    CoolingDown,

    /// <summary>The interventions are used up; raise <see cref="TrainingGuard.Exhausted"/> (the first time).</summary>
    Exhausted,

    /// <summary>The interventions are used up and that has been raised already.</summary>
    StillExhausted,
}
