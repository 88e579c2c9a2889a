namespace SpectralAlign.Detection;

/// <summary>
/// The state of a <see cref="ScoredRunRule"/>: turns each step's <see cref="TrainingSignals"/> into an anomaly score
/// (higher is more anomalous), or <c>null</c> while warming up or when the signal it needs is missing.
/// </summary>
public interface IRunScorer
{
    /// <summary>Scores one step.</summary>
    /// <param name="step">The step.</param>
    /// <param name="signals">The step's signals.</param>
    /// <returns>The score, or <c>null</c>.</returns>
    double? Score(long step, TrainingSignals signals);

    /// <summary>Explains a score for an alert.</summary>
    /// <param name="score">The score.</param>
    /// <param name="threshold">The threshold it was compared with.</param>
    /// <returns>A human-readable sentence.</returns>
    string Describe(double score, double threshold);
}
