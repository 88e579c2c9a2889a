namespace SpectralAlign.Detection;

/// <summary>
/// Baseline detector: the largest absolute input activation of the layer grew by
/// <see cref="ScoredLayerRule.Threshold"/>× (default <c>2</c>) or more within
/// <see cref="WindowedRatioRule.WindowSteps"/> steps (default 200).
/// </summary>
public sealed class MaxActivationGrowthRule : WindowedRatioRule
{
    /// <inheritdoc />
    public override string Reason => AlertReasons.MaxActivationGrowth;

    /// <summary>Growth factor over the window that is anomalous. Default <c>2</c>.</summary>
    public override double Threshold { get; set; } = 2;

    /// <inheritdoc />
    protected override string StatisticName => "max |input|";

    /// <inheritdoc />
    protected override double? Read(LayerMeasurement measurement) => measurement.MaxAbsInput;
}
