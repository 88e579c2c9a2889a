namespace SpectralAlign;

/// <summary>Conditions attached to a <see cref="LayerMeasurement"/>. Several may be set at once.</summary>
[Flags]
public enum MeasurementConditions
{
    /// <summary>A normal measurement.</summary>
    None = 0,

    /// <summary>The layer's hook captured no input on this step (it was not called in training mode, or was called
    /// through <c>forward</c> instead of <c>call</c>); spectral quantities are still reported, the statistics are
    /// empty.</summary>
    NoInput = 1,

    /// <summary>Some sampled input rows contained NaN or an infinity; they were excluded from the statistics.</summary>
    NonFiniteInput = 2,

    /// <summary>The weight contains NaN or an infinity; no singular vector and no statistics could be computed.</summary>
    NonFiniteWeight = 4,

    /// <summary>The weight is exactly zero, so its singular vectors are undefined; the statistics are empty.</summary>
    ZeroWeight = 8,

    /// <summary>Every sampled row had a zero norm; the statistics are empty.</summary>
    NoValidRows = 16,

    /// <summary>The power iteration hit <see cref="SpectralMonitorOptions.MaxPowerIterations"/> before its residual
    /// fell below <see cref="SpectralMonitorOptions.ResidualTolerance"/>; v1 is approximate.</summary>
    NotConverged = 32,

    /// <summary>The singular vector was computed from a random start (first measurement of the layer, or after a
    /// non-finite weight) rather than warm-started from the previous measurement.</summary>
    ColdStart = 64,
}
