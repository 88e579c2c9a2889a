namespace SpectralAlign.Detection;

/// <summary>One healthy reference run for <see cref="DetectionCalibrator"/>: its measurements (all layers, step
/// order) and, for run-level rules, its per-step signals.</summary>
public sealed class CalibrationRun
{
    /// <summary>The run's measurements, as <see cref="SpectralMonitor.Measured"/> raised them (or as a run log holds
    /// them).</summary>
    public required IReadOnlyList<LayerMeasurement> Measurements { get; init; }

    /// <summary>The run's per-step signals, in step order; empty when there are none.</summary>
    public IReadOnlyList<(long Step, TrainingSignals Signals)> Signals { get; init; } = [];
}
