using System.Globalization;

namespace SpectralAlign.Detection;

/// <summary>
/// Exploratory: the rate of change of one-sidedness. Score = rise of |mean SA| over <see cref="WindowSteps"/> steps
/// divided by <see cref="Rise"/>; anomalous at ≥ 1 (the default threshold). Catches a collapse in progress whatever
/// the layer's level.
/// </summary>
public sealed class AlignmentTrendRule : LayerRule
{
    /// <summary>Creates the rule with reason <see cref="AlertReasons.AlignmentTrend"/> and threshold <c>1</c>.</summary>
    public AlignmentTrendRule()
        : base(AlertReasons.AlignmentTrend, 1)
    {
    }

    /// <summary>Rise of |mean SA| over the window that is anomalous. Default <c>0.15</c>.</summary>
    public double Rise { get; init; } = 0.15;

    /// <summary>Window, in training steps. Default <c>200</c>.</summary>
    public int WindowSteps { get; init; } = 200;

    /// <inheritdoc />
    protected internal override RuleScorer<LayerMeasurement> CreateScorer(string layer) => new Scorer(this);

    /// <inheritdoc />
    protected internal override IEnumerable<string> Validate()
    {
        foreach (var problem in base.Validate())
            yield return problem;
        if (!(Rise > 0 && Rise <= 1))
            yield return $"Rise must be in (0, 1] (was {Rise}).";
        if (WindowSteps < 1)
            yield return $"WindowSteps must be >= 1 (was {WindowSteps}).";
    }

    private sealed class Scorer(AlignmentTrendRule rule) : RuleScorer<LayerMeasurement>
    {
        private readonly SeriesHistory _history = new();
        private double _past;

        public override double? Score(long step, LayerMeasurement input)
        {
            double now = input.Stats.AbsMean;
            if (_history.AddAndLookBack(step, now, rule.WindowSteps) is not { } past)
                return null;
            _past = past;
            return (now - past) / rule.Rise;
        }

        public override string Describe(long step, LayerMeasurement input, double score, double threshold) => string.Create(
            CultureInfo.InvariantCulture,
            $"|mean SA| rose from {_past:0.000} to {input.Stats.AbsMean:0.000} in {rule.WindowSteps} steps (threshold +{rule.Rise * threshold:0.000})");

        public override IReadOnlyList<double> SaveState() => _history.Save();

        public override void LoadState(IReadOnlyList<double> state) => _history.Load(state);
    }
}
