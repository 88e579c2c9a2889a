namespace SpectralAlign;

/// <summary>
/// An alert raised through <see cref="SpectralMonitor.CollapseDetected"/>: a detection rule found a layer's
/// spectral-alignment distribution anomalous for long enough, or a layer produced non-finite values. One alert is
/// raised per episode; the rule re-arms after the layer has recovered. Immutable.
/// </summary>
public sealed class CollapseAlert
{
    /// <summary>The <see cref="Layer"/> of alerts raised by run-level rules (loss, gradient norm).</summary>
    public const string RunLayer = "(run)";

    /// <summary>Name of the layer, or <see cref="RunLayer"/> for a run-level alert.</summary>
    public required string Layer { get; init; }

    /// <summary>Step of the measurement that completed the episode.</summary>
    public long Step { get; init; }

    /// <summary>Statistics of that measurement.</summary>
    public SpectralAlignmentStats Stats { get; init; } = SpectralAlignmentStats.Empty;

    /// <summary>What kind of alert this is; one of <see cref="AlertReasons"/> or a custom rule's reason.</summary>
    public required string Reason { get; init; }

    /// <summary>Human-readable explanation with the numbers that triggered the alert.</summary>
    public string Detail { get; init; } = "";

    /// <summary>Step of the first anomalous measurement of the episode.</summary>
    public long EpisodeStartStep { get; init; }

    /// <summary>The full measurement that completed the episode; <c>null</c> for a run-level alert.</summary>
    public LayerMeasurement? Measurement { get; init; }

    /// <inheritdoc />
    public override string ToString() => $"{Reason} in {Layer} at step {Step}: {Detail}";
}
