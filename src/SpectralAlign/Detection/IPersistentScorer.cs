using System.Text.Json.Nodes;

namespace SpectralAlign.Detection;

/// <summary>A scorer whose state can be saved with a training checkpoint (see
/// <see cref="SpectralMonitor.SaveState(Stream)"/>); scorers that do not implement it start afresh after a restore.</summary>
public interface IPersistentScorer
{
    /// <summary>The scorer's state as JSON.</summary>
    /// <returns>A node that <see cref="LoadState"/> accepts.</returns>
    JsonNode SaveState();

    /// <summary>Restores a state produced by <see cref="SaveState"/>.</summary>
    /// <param name="state">The saved state.</param>
    void LoadState(JsonNode state);
}
