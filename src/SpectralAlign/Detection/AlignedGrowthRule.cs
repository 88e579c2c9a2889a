using System.Globalization;

namespace SpectralAlign.Detection;

/// <summary>
/// The mechanism of the paper's Theorem 1: one-sided alignment <em>together with</em> sustained growth of the same
/// layer's spectral norm. Score = min(one-sidedness, growth), where one-sidedness is the
/// <see cref="AbsoluteSignCollapseRule"/> score (max(|mean SA| / <see cref="MeanThreshold"/>,
/// (1 − D) / (1 − <see cref="DiversityThreshold"/>))) and growth is σ1's growth factor over
/// <see cref="WindowSteps"/> steps divided by <see cref="GrowthFactor"/>; anomalous at ≥ 1 (both hold; the default
/// threshold). <see cref="AlignedAccelerationRule"/> asks for accelerating rather than sustained growth.
/// </summary>
public sealed class AlignedGrowthRule : LayerRule
{
    /// <summary>Creates the rule with reason <see cref="AlertReasons.AlignedGrowth"/> and threshold <c>1</c>.</summary>
    public AlignedGrowthRule()
        : base(AlertReasons.AlignedGrowth, 1)
    {
    }

    /// <summary>|mean SA| that counts as one-sided. Default <c>0.2</c>.</summary>
    public double MeanThreshold { get; init; } = 0.2;

    /// <summary>Sign diversity that counts as one-sided. Default <c>0.1</c>.</summary>
    public double DiversityThreshold { get; init; } = 0.1;

    /// <summary>σ1 growth over the window that counts as sustained growth. Default <c>1.5</c>.</summary>
    public double GrowthFactor { get; init; } = 1.5;

    /// <summary>Window of the growth, in training steps. Default <c>200</c>.</summary>
    public int WindowSteps { get; init; } = 200;

    /// <inheritdoc />
    protected internal override RuleScorer<LayerMeasurement> CreateScorer(string layer) => new Scorer(this);

    /// <inheritdoc />
    protected internal override IEnumerable<string> Validate()
    {
        foreach (var problem in base.Validate().Concat(OneSidedness.Validate(MeanThreshold, DiversityThreshold)))
            yield return problem;
        if (!(GrowthFactor > 1) || double.IsInfinity(GrowthFactor))
            yield return $"GrowthFactor must be a finite number > 1 (was {GrowthFactor}).";
        if (WindowSteps < 1)
            yield return $"WindowSteps must be >= 1 (was {WindowSteps}).";
    }

    private sealed class Scorer(AlignedGrowthRule rule) : RuleScorer<LayerMeasurement>
    {
        private readonly SeriesHistory _history = new();
        private double _growth;

        public override double? Score(long step, LayerMeasurement input)
        {
            double sigma = input.SpectralNorm;
            if (!double.IsFinite(sigma) || sigma <= 0 || _history.AddAndLookBack(step, sigma, rule.WindowSteps) is not { } past)
                return null;
            _growth = sigma / past;
            return Math.Min(OneSidedness.Score(input.Stats, rule.MeanThreshold, rule.DiversityThreshold), _growth / rule.GrowthFactor);
        }

        public override string Describe(long step, LayerMeasurement input, double score, double threshold) => string.Create(
            CultureInfo.InvariantCulture,
            $"one-sided (|mean SA| {input.Stats.AbsMean:0.000}, sign diversity {input.Stats.SignDiversity:0.000}) while σ1 grew {_growth:0.00}× in {rule.WindowSteps} steps to {input.SpectralNorm:G4}; score {score:0.00} (threshold {threshold:0.00})");

        public override IReadOnlyList<double> SaveState() => _history.Save();

        public override void LoadState(IReadOnlyList<double> state) => _history.Load(state);
    }
}
