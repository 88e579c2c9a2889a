namespace SpectralAlign.Telemetry;

/// <summary>The contents of a run log, as read by <see cref="RunLogReader"/>. Immutable.</summary>
public sealed class RunLog
{
    /// <summary>The run metadata of the header line (<see cref="RunLogOptions.Tags"/>); empty when the file has no
    /// header.</summary>
    public IReadOnlyDictionary<string, string> Tags { get; init; } = new Dictionary<string, string>();

    /// <summary>When the log was created (from the header), or <c>null</c>.</summary>
    public DateTimeOffset? Created { get; init; }

    /// <summary>Every measurement, in file order (by step, then in the order the layers were watched).</summary>
    public IReadOnlyList<LayerMeasurement> Measurements { get; init; } = [];

    /// <summary>Every alert, in file order; <see cref="CollapseAlert.Measurement"/> is the measurement it came with.</summary>
    public IReadOnlyList<CollapseAlert> Alerts { get; init; } = [];

    /// <summary>Every scalar written with <see cref="RunLogWriter.WriteScalar"/>, in file order.</summary>
    public IReadOnlyList<RunLogScalar> Scalars { get; init; } = [];

    /// <summary>Every marker written with <see cref="RunLogWriter.WriteMarker"/>, in file order.</summary>
    public IReadOnlyList<RunLogMarker> Markers { get; init; } = [];

    /// <summary>The layer names, in the order they first appear.</summary>
    public IReadOnlyList<string> Layers { get; init; } = [];

    /// <summary>Whether the last line was incomplete (a writer killed mid-record) and was skipped.</summary>
    public bool TruncatedTail { get; init; }

    /// <summary>The measurements of one layer, in step order.</summary>
    /// <param name="layer">The layer name.</param>
    /// <returns>Its measurements; empty for an unknown layer.</returns>
    public IReadOnlyList<LayerMeasurement> ForLayer(string layer) =>
        Measurements.Where(m => m.Layer == layer).OrderBy(m => m.Step).ToArray();
}
