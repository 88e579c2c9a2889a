namespace SpectralAlign;

/// <summary>The <see cref="CollapseAlert.Reason"/> values raised by the built-in rules and checks.</summary>
public static class AlertReasons
{
    /// <summary>The default, baseline-relative rule: the layer's SA distribution became markedly more one-sided
    /// than its own baseline (<see cref="Detection.BaselineRelativeRule"/>).</summary>
    public const string SignCollapse = "SignCollapse";

    /// <summary>The layer's SA distribution became markedly more one-sided than its own recent, lagged baseline
    /// (<see cref="Detection.RollingBaselineRule"/>).</summary>
    public const string RollingSignCollapse = "RollingSignCollapse";

    /// <summary>The paper's absolute rule: |mean SA| or sign diversity crossed a fixed threshold
    /// (<see cref="Detection.AbsoluteSignCollapseRule"/>).</summary>
    public const string AbsoluteSignCollapse = "AbsoluteSignCollapse";

    /// <summary>The layer's inputs or weight contained NaN or an infinity.</summary>
    public const string NonFinite = "NonFinite";

    /// <summary>One-sided alignment together with sustained σ1 growth (<see cref="Detection.AlignedGrowthRule"/>,
    /// the paper's Theorem 1).</summary>
    public const string AlignedGrowth = "AlignedGrowth";

    /// <summary>One-sided alignment together with accelerating growth of log σ1 (<see cref="Detection.AlignedAccelerationRule"/>,
    /// the feedback loop of the paper's Theorem 1).</summary>
    public const string AlignedAcceleration = "AlignedAcceleration";

    /// <summary>|mean SA| rising fast (<see cref="Detection.AlignmentTrendRule"/>).</summary>
    public const string AlignmentTrend = "AlignmentTrend";

    /// <summary>σ1 growing fast (<see cref="Detection.SpectralNormGrowthRule"/>).</summary>
    public const string SpectralNormGrowth = "SpectralNormGrowth";

    /// <summary>Stable rank falling fast (<see cref="Detection.StableRankDropRule"/>).</summary>
    public const string StableRankDrop = "StableRankDrop";

    /// <summary>Largest input activation growing fast (<see cref="Detection.MaxActivationGrowthRule"/>).</summary>
    public const string MaxActivationGrowth = "MaxActivationGrowth";

    /// <summary>Loss spike (<see cref="Detection.LossSpikeRule"/>).</summary>
    public const string LossSpike = "LossSpike";

    /// <summary>Gradient-norm spike (<see cref="Detection.GradientNormSpikeRule"/>).</summary>
    public const string GradientNormSpike = "GradientNormSpike";

    /// <summary>Gradient norm far above its exponential moving average (<see cref="Detection.GradientNormEmaRule"/>,
    /// ZClip's test).</summary>
    public const string GradientNormEmaSpike = "GradientNormEmaSpike";

    /// <summary>The centred alignment cos(hᵢ − h̄, v1) became one-sided (<see cref="Detection.CenteredSignCollapseRule"/>).</summary>
    public const string CenteredSignCollapse = "CenteredSignCollapse";

    /// <summary>A layer's update-to-weight ratio jumped above its recent median (<see cref="Detection.UpdateRatioRule"/>).</summary>
    public const string UpdateRatioJump = "UpdateRatioJump";

    /// <summary>An attention block's logit bound reached its threshold (<see cref="Detection.AttentionLogitBoundRule"/>).</summary>
    public const string AttentionLogitBound = "AttentionLogitBound";

    /// <summary>An attention block's logit bound grew fast (<see cref="Detection.AttentionLogitGrowthRule"/>).</summary>
    public const string AttentionLogitGrowth = "AttentionLogitGrowth";

    /// <summary>A layer's top input direction lined up with the top output direction of the layer feeding it
    /// (<see cref="Detection.JacobianAlignmentRule"/>, MSign's Jacobian alignment).</summary>
    public const string JacobianAlignment = "JacobianAlignment";
}
