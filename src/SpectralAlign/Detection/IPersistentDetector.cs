using System.Text.Json.Nodes;

namespace SpectralAlign.Detection;

/// <summary>
/// A layer detector whose state can be saved with a training checkpoint and restored
/// (<see cref="SpectralMonitor.SaveState(Stream)"/>), so that a resumed run keeps its baselines instead of
/// re-entering warm-up. Detectors that do not implement it start afresh after a restore.
/// </summary>
public interface IPersistentDetector : ILayerDetector
{
    /// <summary>The detector's state as JSON.</summary>
    /// <returns>A JSON node that <see cref="LoadState"/> accepts.</returns>
    JsonNode SaveState();

    /// <summary>Restores a state produced by <see cref="SaveState"/> of a detector of the same rule.</summary>
    /// <param name="state">The saved state.</param>
    void LoadState(JsonNode state);
}
