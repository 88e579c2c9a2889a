namespace SpectralAlign.Telemetry;

/// <summary>
/// Receives the results of every measured step after detection (run logs, dashboards, metrics). Register with
/// <see cref="SpectralMonitor.AddSink"/>. Called synchronously on the thread that calls
/// <see cref="SpectralMonitor.Step()"/>, after the <see cref="SpectralMonitor.Measured"/> and
/// <see cref="SpectralMonitor.CollapseDetected"/> events; never concurrently for one monitor. An exception thrown by
/// a sink is caught and logged; training continues. Sinks never influence detection.
/// </summary>
public interface ISpectralSink
{
    /// <summary>Handles one measured step.</summary>
    /// <param name="report">The step's measurements and alerts.</param>
    void OnStep(StepReport report);
}
