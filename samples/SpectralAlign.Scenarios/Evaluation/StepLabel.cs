namespace SpectralAlign.Scenarios.Evaluation;

/// <summary>What a recorded step is for the evaluation at one horizon (see <see cref="HorizonLabels"/>).</summary>
public enum StepLabel
{
    /// <summary>Not evaluated: the explosion step and every step after it.</summary>
    Excluded = 0,

    /// <summary>An explosion follows within the horizon: 0 &lt; E − t ≤ H (and t is not before a fork).</summary>
    Positive = 1,

    /// <summary>Any other step: every step of a run that does not explode, every step before a fork, and the early
    /// steps of an exploding run (E − t &gt; H).</summary>
    Negative = 2,
}
