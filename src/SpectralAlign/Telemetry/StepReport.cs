namespace SpectralAlign.Telemetry;

/// <summary>Everything one measured step produced, after detection: what a <see cref="ISpectralSink"/> receives.
/// Immutable.</summary>
public sealed class StepReport
{
    /// <summary>The measured step.</summary>
    public long Step { get; init; }

    /// <summary>One measurement per watched layer, in the order the layers were watched.</summary>
    public IReadOnlyList<LayerMeasurement> Measurements { get; init; } = [];

    /// <summary>The alerts raised on this step (usually none).</summary>
    public IReadOnlyList<CollapseAlert> Alerts { get; init; } = [];
}
