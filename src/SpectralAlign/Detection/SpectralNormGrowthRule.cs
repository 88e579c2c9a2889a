namespace SpectralAlign.Detection;

/// <summary>
/// Baseline detector: the layer's spectral norm σ1 grew by <see cref="ScoredLayerRule.Threshold"/>× (default
/// <c>1.5</c>) or more within <see cref="WindowedRatioRule.WindowSteps"/> steps (default 200). The paper's Theorem 1
/// makes σ1 growth the consequence of pathological alignment; on its own it also rises in healthy training.
/// </summary>
public sealed class SpectralNormGrowthRule : WindowedRatioRule
{
    /// <inheritdoc />
    public override string Reason => AlertReasons.SpectralNormGrowth;

    /// <summary>Growth factor over the window that is anomalous. Default <c>1.5</c>.</summary>
    public override double Threshold { get; set; } = 1.5;

    /// <inheritdoc />
    protected override string StatisticName => "σ1";

    /// <inheritdoc />
    protected override double? Read(LayerMeasurement measurement) => measurement.SpectralNorm;
}
