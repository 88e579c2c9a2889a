namespace SpectralAlign.Detection;

/// <summary>
/// Baseline detector: the layer's stable rank ‖W‖²_F/σ1² fell by <see cref="ScoredLayerRule.Threshold"/>× (default
/// <c>1.5</c>) or more within <see cref="WindowedRatioRule.WindowSteps"/> steps (default 200) — the weight
/// concentrating on its top direction (the signal of the stable-rank-collapse literature).
/// </summary>
public sealed class StableRankDropRule : WindowedRatioRule
{
    /// <inheritdoc />
    public override string Reason => AlertReasons.StableRankDrop;

    /// <summary>Drop factor over the window that is anomalous. Default <c>1.5</c>.</summary>
    public override double Threshold { get; set; } = 1.5;

    /// <inheritdoc />
    protected override string StatisticName => "stable rank";

    /// <inheritdoc />
    protected override bool Inverted => true;

    /// <inheritdoc />
    protected override double? Read(LayerMeasurement measurement) => measurement.StableRank;
}
