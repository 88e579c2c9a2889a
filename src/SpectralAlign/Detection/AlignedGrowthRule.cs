using System.Globalization;
using System.Text.Json.Nodes;

namespace SpectralAlign.Detection;

/// <summary>
/// The mechanism of the paper's Theorem 1: one-sided alignment <em>together with</em> sustained growth of the same
/// layer's spectral norm. Score = min(one-sidedness, growth), where one-sidedness is the
/// <see cref="AbsoluteSignCollapseRule"/> score (|mean SA| / <see cref="MeanThreshold"/> or
/// (1 − D) / (1 − <see cref="DiversityThreshold"/>)) and growth is σ1's growth over
/// <see cref="WindowSteps"/> steps divided by <see cref="GrowthFactor"/>; anomalous at ≥ 1 (both hold).
/// </summary>
public sealed class AlignedGrowthRule : ScoredLayerRule
{
    /// <summary>|mean SA| that counts as one-sided. Default <c>0.2</c>.</summary>
    public double MeanThreshold { get; set; } = 0.2;

    /// <summary>Sign diversity that counts as one-sided. Default <c>0.1</c>.</summary>
    public double DiversityThreshold { get; set; } = 0.1;

    /// <summary>σ1 growth over the window that counts as sustained growth. Default <c>1.5</c>.</summary>
    public double GrowthFactor { get; set; } = 1.5;

    /// <summary>Window of the growth, in training steps. Default <c>200</c>.</summary>
    public int WindowSteps { get; set; } = 200;

    /// <summary>Score at or above which a measurement is anomalous. Default <c>1</c>.</summary>
    public override double Threshold { get; set; } = 1;

    /// <inheritdoc />
    public override string Reason => AlertReasons.AlignedGrowth;

    /// <inheritdoc />
    public override ILayerScorer CreateScorer(string layer) => new Scorer(this);

    /// <inheritdoc />
    public override IEnumerable<string> Validate()
    {
        foreach (var problem in base.Validate())
            yield return problem;
        if (!(MeanThreshold > 0 && MeanThreshold <= 1))
            yield return $"MeanThreshold must be in (0, 1] (was {MeanThreshold}).";
        if (!(DiversityThreshold >= 0 && DiversityThreshold < 1))
            yield return $"DiversityThreshold must be in [0, 1) (was {DiversityThreshold}).";
        if (!(GrowthFactor > 1) || double.IsInfinity(GrowthFactor))
            yield return $"GrowthFactor must be a finite number > 1 (was {GrowthFactor}).";
        if (WindowSteps < 1)
            yield return $"WindowSteps must be >= 1 (was {WindowSteps}).";
    }

    private sealed class Scorer(AlignedGrowthRule rule) : ILayerScorer, IPersistentScorer
    {
        private readonly SeriesHistory _history = new(rule.WindowSteps);
        private double _growth;

        public double? Score(LayerMeasurement measurement)
        {
            double sigma = measurement.SpectralNorm;
            if (!double.IsFinite(sigma) || sigma <= 0 || _history.AddAndLookBack(measurement.Step, sigma) is not { } past)
                return null;
            _growth = sigma / past;
            double oneSided = AbsoluteSignCollapseRule.OneSidedness(measurement.Stats, rule.MeanThreshold, rule.DiversityThreshold);
            return Math.Min(oneSided, _growth / rule.GrowthFactor);
        }

        public string Describe(LayerMeasurement measurement, double score, double threshold) => string.Create(
            CultureInfo.InvariantCulture,
            $"one-sided (|mean SA| {measurement.Stats.AbsMean:0.000}, sign diversity {measurement.Stats.SignDiversity:0.000}) while σ1 grew {_growth:0.00}× in {rule.WindowSteps} steps to {measurement.SpectralNorm:G4}; score {score:0.00} (threshold {threshold:0.00})");

        public JsonNode SaveState() => new JsonObject { ["history"] = _history.Save() };

        public void LoadState(JsonNode state) => _history.Load(state["history"]!);
    }
}
