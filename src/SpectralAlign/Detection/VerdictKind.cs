namespace SpectralAlign.Detection;

/// <summary>What a detection rule concluded about one measurement.</summary>
public enum VerdictKind
{
    /// <summary>The rule is still learning (e.g. collecting its baseline); the measurement neither counts towards
    /// an alert nor towards recovery.</summary>
    Warming,

    /// <summary>The measurement looks healthy for this layer.</summary>
    Normal,

    /// <summary>The measurement is anomalous; enough consecutive anomalous measurements raise an alert.</summary>
    Anomalous,
}
