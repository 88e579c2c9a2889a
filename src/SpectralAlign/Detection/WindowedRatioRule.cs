using System.Globalization;
using System.Text.Json.Nodes;

namespace SpectralAlign.Detection;

/// <summary>
/// Base of the rules that compare a layer statistic with its own value <see cref="WindowSteps"/> steps earlier: the
/// score is the ratio (growth, or drop for <see cref="Inverted"/> rules). Sustained change over a window rather than
/// a level makes the rules model-independent; calibration fits per-layer thresholds on healthy runs.
/// </summary>
public abstract class WindowedRatioRule : ScoredLayerRule
{
    /// <summary>How far back the comparison looks, in training steps. Default <c>200</c>.</summary>
    public int WindowSteps { get; set; } = 200;

    /// <summary>The statistic's name, for messages.</summary>
    protected abstract string StatisticName { get; }

    /// <summary>Whether a drop (old / new) rather than a growth (new / old) is anomalous.</summary>
    protected virtual bool Inverted => false;

    /// <summary>Reads the statistic from a measurement; <c>null</c> when it is not available.</summary>
    /// <param name="measurement">The measurement.</param>
    /// <returns>The value.</returns>
    protected abstract double? Read(LayerMeasurement measurement);

    /// <inheritdoc />
    public override ILayerScorer CreateScorer(string layer) => new Scorer(this);

    /// <inheritdoc />
    public override IEnumerable<string> Validate()
    {
        foreach (var problem in base.Validate())
            yield return problem;
        if (WindowSteps < 1)
            yield return $"WindowSteps must be >= 1 (was {WindowSteps}).";
    }

    private sealed class Scorer(WindowedRatioRule rule) : ILayerScorer, IPersistentScorer
    {
        private readonly SeriesHistory _history = new(rule.WindowSteps);
        private double _past;

        public double? Score(LayerMeasurement measurement)
        {
            if (rule.Read(measurement) is not { } value || !double.IsFinite(value) || value <= 0)
                return null;
            if (_history.AddAndLookBack(measurement.Step, value) is not { } past)
                return null;
            _past = past;
            return rule.Inverted ? past / value : value / past;
        }

        public string Describe(LayerMeasurement measurement, double score, double threshold) => string.Create(
            CultureInfo.InvariantCulture,
            $"{rule.StatisticName} {(rule.Inverted ? "fell" : "grew")} {score:0.00}× in {rule.WindowSteps} steps ({_past:G4} → {rule.Read(measurement):G4}; threshold {threshold:0.00}×)");

        public JsonNode SaveState() => new JsonObject { ["history"] = _history.Save() };

        public void LoadState(JsonNode state) => _history.Load(state["history"]!);
    }
}
