namespace SpectralAlign.Detection;

/// <summary>
/// The default rule: judges each layer's SA distribution against the layer's own baseline, learnt after the warm-up
/// and then frozen, instead of fixed thresholds (the score: see <see cref="SignBaselineRule"/>).
/// </summary>
/// <remarks>
/// Healthy layers are not always balanced: query projections, FFN gates, LM heads and layers fed by non-centred
/// inputs (e.g. after a ReLU) often have a one-sided SA distribution from early training on and keep it. So after the
/// warm-up this rule learns, from the next <see cref="BaselineMeasurements"/> usable measurements, the median and the
/// robust spread (1.4826·MAD) of |mean SA| and of the sign diversity D, and scores each later measurement against
/// them. A score ≥ 1 (the default <see cref="DetectionRule.Threshold"/>) means the distribution has become markedly
/// more one-sided than it normally is for this layer. The baseline is frozen once learnt so that a slow collapse is
/// not absorbed into it; <see cref="RollingBaselineRule"/> is the variant with a baseline that moves, lagging behind.
/// </remarks>
public sealed class BaselineRelativeRule : SignBaselineRule
{
    /// <summary>Creates the rule with reason <see cref="AlertReasons.SignCollapse"/> and threshold <c>1</c>.</summary>
    public BaselineRelativeRule()
        : base(AlertReasons.SignCollapse)
    {
    }

    /// <summary>Usable measurements (after the warm-up) that form the baseline. Default <c>20</c>.</summary>
    public int BaselineMeasurements { get; init; } = 20;

    /// <inheritdoc />
    protected internal override RuleScorer<LayerMeasurement> CreateScorer(string layer) => new Scorer(this);

    /// <inheritdoc />
    protected internal override IEnumerable<string> Validate()
    {
        foreach (var problem in base.Validate())
            yield return problem;
        if (BaselineMeasurements < 2)
            yield return $"BaselineMeasurements must be >= 2 (was {BaselineMeasurements}).";
    }

    private sealed class Scorer(BaselineRelativeRule rule) : RuleScorer<LayerMeasurement>
    {
        private readonly List<double> _absMeans = [];
        private readonly List<double> _diversities = [];
        private SignBaseline? _baseline;

        public override double? Score(long step, LayerMeasurement input)
        {
            if (_baseline is not null)
                return _baseline.Score(input.Stats);
            _absMeans.Add(input.Stats.AbsMean);
            _diversities.Add(input.Stats.SignDiversity);
            Learn();
            return null;
        }

        public override string Describe(long step, LayerMeasurement input, double score, double threshold) =>
            _baseline!.Describe(input.Stats, score, threshold);

        /// <summary>The baseline's measurements: |mean SA| values, then as many sign diversities.</summary>
        public override IReadOnlyList<double> SaveState() => [.. _absMeans, .. _diversities];

        public override void LoadState(IReadOnlyList<double> state)
        {
            if (state.Count % 2 != 0)
                throw new InvalidDataException($"The baseline needs as many sign diversities as |mean SA| values (got {state.Count} numbers).");
            _absMeans.Clear();
            _diversities.Clear();
            _absMeans.AddRange(state.Take(state.Count / 2));
            _diversities.AddRange(state.Skip(state.Count / 2));
            _baseline = null;
            Learn();
        }

        private void Learn()
        {
            if (_absMeans.Count >= rule.BaselineMeasurements)
                _baseline = new SignBaseline(_absMeans, _diversities, rule.Settings);
        }
    }
}
