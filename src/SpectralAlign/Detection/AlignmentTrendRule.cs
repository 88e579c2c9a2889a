using System.Globalization;
using System.Text.Json.Nodes;

namespace SpectralAlign.Detection;

/// <summary>
/// Exploratory: the rate of change of one-sidedness. Score = rise of |mean SA| over <see cref="WindowSteps"/> steps
/// divided by <see cref="Rise"/>; anomalous at ≥ 1. Catches a collapse in progress whatever the layer's level.
/// </summary>
public sealed class AlignmentTrendRule : ScoredLayerRule
{
    /// <summary>Rise of |mean SA| over the window that is anomalous. Default <c>0.15</c>.</summary>
    public double Rise { get; set; } = 0.15;

    /// <summary>Window, in training steps. Default <c>200</c>.</summary>
    public int WindowSteps { get; set; } = 200;

    /// <summary>Score at or above which a measurement is anomalous. Default <c>1</c>.</summary>
    public override double Threshold { get; set; } = 1;

    /// <inheritdoc />
    public override string Reason => AlertReasons.AlignmentTrend;

    /// <inheritdoc />
    public override ILayerScorer CreateScorer(string layer) => new Scorer(this);

    /// <inheritdoc />
    public override IEnumerable<string> Validate()
    {
        foreach (var problem in base.Validate())
            yield return problem;
        if (!(Rise > 0 && Rise <= 1))
            yield return $"Rise must be in (0, 1] (was {Rise}).";
        if (WindowSteps < 1)
            yield return $"WindowSteps must be >= 1 (was {WindowSteps}).";
    }

    private sealed class Scorer(AlignmentTrendRule rule) : ILayerScorer, IPersistentScorer
    {
        private readonly SeriesHistory _history = new(rule.WindowSteps);
        private double _past;

        public double? Score(LayerMeasurement measurement)
        {
            double now = measurement.Stats.AbsMean;
            if (_history.AddAndLookBack(measurement.Step, now) is not { } past)
                return null;
            _past = past;
            return (now - past) / rule.Rise;
        }

        public string Describe(LayerMeasurement measurement, double score, double threshold) => string.Create(
            CultureInfo.InvariantCulture,
            $"|mean SA| rose from {_past:0.000} to {measurement.Stats.AbsMean:0.000} in {rule.WindowSteps} steps (threshold +{rule.Rise * threshold:0.000})");

        public JsonNode SaveState() => new JsonObject { ["history"] = _history.Save() };

        public void LoadState(JsonNode state) => _history.Load(state["history"]!);
    }
}
