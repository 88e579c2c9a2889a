using System.Text.Json.Nodes;

namespace SpectralAlign.Detection;

/// <summary>
/// A layer rule that scores every usable measurement and calls it anomalous when the score reaches a threshold:
/// <see cref="Threshold"/> by default, or the layer's own threshold from a <see cref="DetectionCalibration"/> fitted
/// on healthy reference runs (<see cref="DetectionOptions.Calibration"/>). All built-in layer rules are scored rules.
/// </summary>
public abstract class ScoredLayerRule : IDetectionRule
{
    /// <inheritdoc />
    public abstract string Reason { get; }

    /// <summary>The score at or above which a measurement is anomalous, for layers without a calibrated threshold.
    /// Each rule documents its default.</summary>
    public abstract double Threshold { get; set; }

    /// <summary>Creates the scoring state of this rule for one layer (used online, offline and by the
    /// calibrator).</summary>
    /// <param name="layer">The layer's name.</param>
    /// <returns>A new scorer.</returns>
    public abstract ILayerScorer CreateScorer(string layer);

    /// <inheritdoc />
    public ILayerDetector CreateDetector(string layer) => CreateDetector(layer, Threshold);

    /// <summary>Creates the detector of one layer with an explicit threshold.</summary>
    /// <param name="layer">The layer's name.</param>
    /// <param name="threshold">The threshold.</param>
    /// <returns>A new detector.</returns>
    public ILayerDetector CreateDetector(string layer, double threshold) => new Detector(CreateScorer(layer), threshold);

    /// <inheritdoc />
    public virtual IEnumerable<string> Validate()
    {
        if (double.IsNaN(Threshold))
            yield return "Threshold must be a number.";
    }

    private sealed class Detector(ILayerScorer scorer, double threshold) : IPersistentDetector
    {
        public DetectorVerdict Observe(LayerMeasurement measurement)
        {
            var score = scorer.Score(measurement);
            if (score is not { } s)
                return DetectorVerdict.Warming;
            return s >= threshold ? DetectorVerdict.Anomalous(scorer.Describe(measurement, s, threshold)) : DetectorVerdict.Normal;
        }

        public JsonNode SaveState() => scorer is IPersistentScorer p ? p.SaveState() : new JsonObject();

        public void LoadState(JsonNode state)
        {
            if (scorer is IPersistentScorer p)
                p.LoadState(state);
        }
    }
}
