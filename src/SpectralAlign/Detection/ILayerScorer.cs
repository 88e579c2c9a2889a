namespace SpectralAlign.Detection;

/// <summary>
/// The per-layer state of a <see cref="ScoredLayerRule"/>: turns each usable measurement into an anomaly score
/// (higher is more anomalous), or <c>null</c> while it is still learning (e.g. its baseline or its history window).
/// </summary>
public interface ILayerScorer
{
    /// <summary>Scores the layer's next usable measurement.</summary>
    /// <param name="measurement">The measurement.</param>
    /// <returns>The score, or <c>null</c> while warming up.</returns>
    double? Score(LayerMeasurement measurement);

    /// <summary>Explains a score for an alert, with the numbers involved.</summary>
    /// <param name="measurement">The measurement that was scored.</param>
    /// <param name="score">Its score.</param>
    /// <param name="threshold">The threshold it was compared with.</param>
    /// <returns>A human-readable sentence.</returns>
    string Describe(LayerMeasurement measurement, double score, double threshold);
}
