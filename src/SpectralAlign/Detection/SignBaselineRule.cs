namespace SpectralAlign.Detection;

/// <summary>
/// The settings shared by the rules that judge a layer's SA one-sidedness against its own baseline
/// (<see cref="BaselineRelativeRule"/>, frozen after the warm-up; <see cref="RollingBaselineRule"/>, lagged and
/// rolling): a measurement scores max((|mean SA| − median) / max(<see cref="Sigmas"/>·spread,
/// <see cref="MinMeanShift"/>), (median D − D) / max(<see cref="Sigmas"/>·spread, <see cref="MinDiversityDrop"/>)),
/// with medians and robust spreads (1.4826·MAD) over the baseline, the diversity term only where the baseline is
/// diverse enough to drop that far; anomalous at ≥ 1 (the default threshold).
/// </summary>
public abstract class SignBaselineRule : LayerRule
{
    private protected SignBaselineRule(string reason)
        : base(reason, 1)
    {
    }

    /// <summary>Robust standard deviations a statistic must move beyond its baseline. Default <c>6</c>.</summary>
    public double Sigmas { get; init; } = 6;

    /// <summary>Smallest rise of |mean SA| above its baseline median that counts. Default <c>0.4</c>: in the scenario
    /// suite healthy layers drifted by up to ≈ 0.3 from their early baseline (see the README).</summary>
    public double MinMeanShift { get; init; } = 0.4;

    /// <summary>Smallest drop of the sign diversity below its baseline median that counts. Default <c>1</c>, which
    /// turns the diversity criterion off unless the baseline is perfectly balanced: in the scenario suite healthy
    /// layers lost their sign diversity during normal training (D 0.95 → 0.15 within ~150 steps).</summary>
    public double MinDiversityDrop { get; init; } = 1;

    private protected SignBaselineSettings Settings => new(Sigmas, MinMeanShift, MinDiversityDrop);

    /// <inheritdoc />
    protected internal override IEnumerable<string> Validate() => base.Validate().Concat(Settings.Validate());
}
