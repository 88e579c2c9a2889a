namespace SpectralAlign.Detection;

/// <summary>
/// The settings shared by the single-signal spike checks (<see cref="GradientNormSpikeRule"/>,
/// <see cref="LossSpikeRule"/>): OLMo's check of the signal's z-score against the previous <see cref="WindowSteps"/>
/// steps, judged once the window holds <see cref="MinSamples"/> values, alerting on a single step
/// (<see cref="DetectionRule.Persistence"/> <c>1</c>) at <see cref="DetectionRule.Threshold"/> <c>6</c> σ.
/// </summary>
/// <remarks>
/// As OLMo-core's stability monitor (window 128, 6σ, full window), except that a value at or above the rule's
/// threshold does not enter the window (so a sustained jump stays anomalous instead of becoming the new normal) and
/// the standard deviation is the sample one. A non-finite value scores +∞. The spread the z-score divides by is at
/// least <see cref="MinRelativeSpread"/> × |mean|: changes smaller than that are noise (e.g. float rounding of a
/// constant signal), so a constant signal scores 0 and never alerts. A window of exact zeros has no scale at all: a
/// value that leaves it scores +∞ (or −∞ below it), one that stays scores 0.
/// </remarks>
public abstract class SpikeRule : RunRule
{
    private protected SpikeRule(string reason)
        : base(reason, 6)
    {
        Persistence = 1;
    }

    /// <summary>Steps in the reference window. Default <c>128</c>.</summary>
    public int WindowSteps { get; init; } = 128;

    /// <summary>Values the window must hold before the rule judges. Default <c>128</c> (a full window).</summary>
    public int MinSamples { get; init; } = 128;

    /// <summary>Smallest spread, relative to |mean|, that the z-score divides by. Default <c>1e-3</c>.</summary>
    public double MinRelativeSpread { get; init; } = 1e-3;

    private protected SpikeSettings Settings => new(WindowSteps, MinSamples, MinRelativeSpread);

    /// <inheritdoc />
    protected internal override IEnumerable<string> Validate() => base.Validate().Concat(Settings.Validate());
}
