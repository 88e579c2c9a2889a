namespace SpectralAlign.Detection;

/// <summary>
/// The per-layer state of a detection rule. Receives the layer's usable measurements in step order (after the
/// warm-up, and only those with at least <see cref="DetectionOptions.MinSamples"/> valid rows and a finite weight).
/// Runs on the thread that calls <see cref="SpectralMonitor.Step()"/>, or the thread of an offline
/// <see cref="CollapseDetector"/>; it is never called concurrently.
/// </summary>
public interface ILayerDetector
{
    /// <summary>Judges one measurement.</summary>
    /// <param name="measurement">The layer's next usable measurement.</param>
    /// <returns>The verdict.</returns>
    DetectorVerdict Observe(LayerMeasurement measurement);
}
