namespace SpectralAlign.Telemetry;

/// <summary>
/// Receives, on every measured step, each watched layer's subsampled input rows and weight before they are measured
/// (offline analysis: save the tensors and compute later, paper §3.3). Register with
/// <see cref="SpectralMonitor.AddCaptureSink"/>. Called synchronously inside <see cref="SpectralMonitor.Step()"/>,
/// under no_grad; an exception is caught and logged and does not affect the measurement.
/// </summary>
public interface ICaptureSink
{
    /// <summary>Handles one layer's capture.</summary>
    /// <param name="record">The rows and weight; valid only during the call.</param>
    void OnCapture(CaptureRecord record);
}
