namespace SpectralAlign.Telemetry;

/// <summary>What <see cref="OfflineAnalyzer"/> computed from a capture. Immutable.</summary>
public sealed class OfflineAnalysis
{
    /// <summary>One measurement per layer per saved step, by step, then in the order the layers were captured.
    /// <see cref="LayerMeasurement.InputRows"/> is the count the layer saw during training (from the manifest).</summary>
    public IReadOnlyList<LayerMeasurement> Measurements { get; init; } = [];

    /// <summary>The alerts the detection rules raised on the replayed measurements.</summary>
    public IReadOnlyList<CollapseAlert> Alerts { get; init; } = [];

    /// <summary>The saved steps, ascending.</summary>
    public IReadOnlyList<long> Steps { get; init; } = [];

    /// <summary>The options the measurements were computed with (after the analyser's adjustments).</summary>
    public required SpectralMonitorOptions Options { get; init; }

    /// <summary>Whether the manifest's last line was incomplete (the capturing process was killed) and was skipped.</summary>
    public bool TruncatedTail { get; init; }
}
