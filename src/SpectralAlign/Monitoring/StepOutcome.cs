using SpectralAlign.Detection;
using SpectralAlign.Telemetry;

namespace SpectralAlign.Monitoring;

/// <summary>
/// What one <see cref="SpectralMonitor.Step()"/> produced under the monitor's lock, for the
/// <see cref="StepPublisher"/> to report after the lock is released. Owns the tensors of its capture records.
/// </summary>
internal sealed class StepOutcome(long step) : IDisposable
{
    public long Step { get; } = step;

    /// <summary>Whether the step was a measured step with watched layers.</summary>
    public bool Measured { get; set; }

    public LayerMeasurement[] Measurements { get; set; } = [];

    public List<CollapseAlert> Alerts { get; } = [];

    /// <summary>Each measured layer's rows and weight, kept for the capture sinks (empty without capture sinks).</summary>
    public List<CaptureRecord> Captures { get; } = [];

    /// <summary>Layers skipped because their module no longer has a matching weight.</summary>
    public List<string> MissingWeights { get; } = [];

    /// <summary>Layers whose hook has just been silent for too long.</summary>
    public List<(string Layer, long Steps)> SilentHooks { get; set; } = [];

    /// <summary>Layers whose input could not be taken (their weight selector or row recovery threw): not measured on
    /// this step, unlike the others.</summary>
    public List<(string Layer, Exception Exception)> LayerFailures { get; } = [];

    /// <summary>Layers whose captured rows could not be recovered (e.g. through a non-finite attention output weight);
    /// each is measured without rows.</summary>
    public List<(string Layer, Exception Exception)> RowFailures { get; } = [];

    /// <summary>Why the measurement failed, if it did (no measurements then).</summary>
    public Exception? MeasurementFailure { get; set; }

    /// <summary>Exceptions that escaped detection (layer, or <see cref="CollapseAlert.RunLayer"/>).</summary>
    public List<(string Layer, Exception Exception)> DetectionFailures { get; } = [];

    /// <summary>Rules that threw during this step and were switched off for their layer (or group, or the run).</summary>
    public List<RuleFault> RuleFaults { get; } = [];

    public void Dispose()
    {
        foreach (var capture in Captures)
        {
            capture.Rows?.Dispose();
            capture.Weight.Dispose();
        }

        Captures.Clear();
    }
}
