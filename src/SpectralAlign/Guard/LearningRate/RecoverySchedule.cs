namespace SpectralAlign.Guard.LearningRate;

/// <summary>
/// The learning-rate factor after a back-off: <see cref="Floor"/> from step <see cref="Start"/> for
/// <see cref="HoldSteps"/> steps, then a geometric ramp back to 1 over <see cref="RampSteps"/> steps
/// (s(t) = Floor^(1 − (t − Start − Hold)/Ramp)), then 1. A new back-off during the ramp starts from the factor then in
/// force, so repeated back-offs compound.
/// </summary>
internal sealed record RecoverySchedule(long Start, double Floor, int HoldSteps, int RampSteps)
{
    /// <summary>No back-off: factor 1 at every step.</summary>
    public static RecoverySchedule None { get; } = new(long.MinValue, 1, 0, 0);

    /// <summary>The factor in force at <paramref name="step"/>.</summary>
    public double ScaleAt(long step)
    {
        if (Floor >= 1 || step < Start)
            return 1;
        long ramped = step - Start - HoldSteps;
        if (ramped < 0)
            return Floor;
        if (ramped >= RampSteps)
            return 1;
        return Math.Pow(Floor, 1 - (double)ramped / RampSteps);
    }

    /// <summary>Whether the factor is back at 1 for good from <paramref name="step"/> on.</summary>
    public bool IsOverAt(long step) => Floor >= 1 || step - Start - HoldSteps >= RampSteps;

    /// <summary>A new back-off at <paramref name="step"/>: the factor then in force times <paramref name="factor"/>,
    /// but not below <paramref name="minimum"/>.</summary>
    public RecoverySchedule BackOff(long step, double factor, double minimum, int hold, int ramp) =>
        new(step, Math.Max(minimum, ScaleAt(step) * factor), hold, ramp);
}
