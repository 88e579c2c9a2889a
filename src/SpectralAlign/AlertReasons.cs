namespace SpectralAlign;

/// <summary>The <see cref="CollapseAlert.Reason"/> values raised by the built-in rules and checks.</summary>
public static class AlertReasons
{
    /// <summary>The default, baseline-relative rule: the layer's SA distribution became markedly more one-sided
    /// than its own baseline (<see cref="Detection.BaselineRelativeRule"/>).</summary>
    public const string SignCollapse = "SignCollapse";

    /// <summary>The paper's absolute rule: |mean SA| or sign diversity crossed a fixed threshold
    /// (<see cref="Detection.AbsoluteSignCollapseRule"/>).</summary>
    public const string AbsoluteSignCollapse = "AbsoluteSignCollapse";

    /// <summary>The layer's inputs or weight contained NaN or an infinity.</summary>
    public const string NonFinite = "NonFinite";
}
