namespace SpectralAlign.Guard;

/// <summary>
/// The guard's episode and intervention bookkeeping, and the decision it drives: triggers open an episode (starting at
/// the earliest trigger's episode start) that closes after <see cref="TrainingGuardOptions.QuietSteps"/> quiet steps;
/// triggers within <see cref="TrainingGuardOptions.CooldownSteps"/> of the last intervention are ignored unless one is
/// urgent (a non-finite loss); after <see cref="TrainingGuardOptions.MaxInterventions"/> the guard is exhausted.
/// </summary>
internal sealed class InterventionPolicy(TrainingGuardOptions options)
{
    /// <summary>Interventions made so far.</summary>
    public int Interventions { get; private set; }

    /// <summary>The open episode's first step; null when none is open.</summary>
    public long? EpisodeStart { get; private set; }

    /// <summary>The step of the last trigger (<see cref="long.MinValue"/> when none).</summary>
    public long LastTrigger { get; private set; } = long.MinValue;

    /// <summary>The step of the last intervention (<see cref="long.MinValue"/> when none).</summary>
    public long LastIntervention { get; private set; } = long.MinValue;

    /// <summary>Whether exhaustion has been reported.</summary>
    public bool ExhaustedRaised { get; private set; }

    /// <summary>A step without triggers: closes the episode once it has been quiet long enough.</summary>
    public void Quiet(long step)
    {
        if (EpisodeStart is not null && step - LastTrigger >= options.QuietSteps)
            EpisodeStart = null;
    }

    /// <summary>Records <paramref name="triggers"/> (at least one) at <paramref name="step"/> and decides what to do.</summary>
    public TriggerDecision Decide(long step, IReadOnlyList<GuardTrigger> triggers)
    {
        long start = triggers.Min(t => t.EpisodeStartStep);
        EpisodeStart = Math.Min(EpisodeStart ?? start, start);
        LastTrigger = step;
        bool urgent = triggers.Any(t => t.Kind == GuardTriggerKind.NonFiniteLoss);
        if (!urgent && LastIntervention != long.MinValue && step - LastIntervention <= options.CooldownSteps)
            return TriggerDecision.CoolingDown;
        if (Interventions < options.MaxInterventions)
            return TriggerDecision.Intervene;
        if (ExhaustedRaised)
            return TriggerDecision.StillExhausted;
        ExhaustedRaised = true;
        return TriggerDecision.Exhausted;
    }

    /// <summary>Counts an intervention made at <paramref name="step"/>.</summary>
    public void Intervened(long step)
    {
        Interventions++;
        LastIntervention = step;
    }

    /// <summary>Restores a checkpoint's bookkeeping.</summary>
    public void Restore(int interventions, bool exhaustedRaised, long? episodeStart, long lastTrigger, long lastIntervention)
    {
        Interventions = interventions;
        ExhaustedRaised = exhaustedRaised;
        EpisodeStart = episodeStart;
        LastTrigger = lastTrigger;
        LastIntervention = lastIntervention;
    }
}
