namespace SpectralAlign.Detection;

/// <summary>
/// <see cref="BaselineRelativeRule"/>'s score (see <see cref="SignBaselineRule"/>) against a baseline that moves with
/// the run but lags behind it: at step t the baseline is formed by the layer's measurements at steps s with
/// t − <see cref="LagSteps"/> − <see cref="WindowSteps"/> &lt; s ≤ t − <see cref="LagSteps"/>. Anomalous at ≥ 1 (the
/// default threshold).
/// </summary>
/// <remarks>
/// A frozen baseline (learnt in the first steps) mistakes the slow, healthy drift of a layer over a long run for a
/// collapse, and a baseline that includes the latest measurements absorbs a collapse as it happens. The lag keeps
/// the collapse out of the baseline for <see cref="LagSteps"/> steps while the window follows the run. The rule is
/// silent (warming) until the window holds <see cref="MinBaselineMeasurements"/> measurements, i.e. from about
/// <see cref="LagSteps"/> + MinBaselineMeasurements × interval steps after the warm-up. Its spread settings
/// (<see cref="SignBaselineRule.Sigmas"/>, <see cref="SignBaselineRule.MinMeanShift"/>,
/// <see cref="SignBaselineRule.MinDiversityDrop"/>) have the frozen rule's defaults.
/// </remarks>
public sealed class RollingBaselineRule : SignBaselineRule
{
    /// <summary>Creates the rule with reason <see cref="AlertReasons.RollingSignCollapse"/> and threshold
    /// <c>1</c>.</summary>
    public RollingBaselineRule()
        : base(AlertReasons.RollingSignCollapse)
    {
    }

    /// <summary>How many steps the baseline window ends before the judged step. Default <c>100</c>.</summary>
    public int LagSteps { get; init; } = 100;

    /// <summary>Length of the baseline window, in steps. Default <c>200</c> (20 measurements at the default
    /// interval).</summary>
    public int WindowSteps { get; init; } = 200;

    /// <summary>Measurements the window must hold before the rule judges. Default <c>10</c>.</summary>
    public int MinBaselineMeasurements { get; init; } = 10;

    /// <inheritdoc />
    protected internal override RuleScorer<LayerMeasurement> CreateScorer(string layer) => new Scorer(this);

    /// <inheritdoc />
    protected internal override IEnumerable<string> Validate()
    {
        foreach (var problem in base.Validate())
            yield return problem;
        foreach (var problem in LaggedWindow<double>.Validate(LagSteps, WindowSteps, MinBaselineMeasurements))
            yield return problem;
    }

    private sealed class Scorer(RollingBaselineRule rule) : RuleScorer<LayerMeasurement>
    {
        private static readonly WindowFields<(double AbsMean, double Diversity)> Fields =
            new(["|mean SA|", "diversity"], v => [v.AbsMean, v.Diversity], (state, at) => (state[at], state[at + 1]));
        private readonly LaggedWindow<(double AbsMean, double Diversity)> _window = new(rule.LagSteps, rule.WindowSteps, rule.MinBaselineMeasurements, Fields);
        private SignBaseline? _baseline;

        public override double? Score(long step, LayerMeasurement input)
        {
            var window = _window.Advance(step, (input.Stats.AbsMean, input.Stats.SignDiversity));
            if (window is null)
                return null;
            _baseline = new SignBaseline(window.Select(h => h.AbsMean), window.Select(h => h.Diversity), rule.Settings);
            return _baseline.Score(input.Stats);
        }

        public override string Describe(long step, LayerMeasurement input, double score, double threshold) =>
            _baseline!.Describe(input.Stats, score, threshold) + $" against steps {_window.Steps(step)}";

        /// <summary>(step, |mean SA|, sign diversity) triples.</summary>
        public override IReadOnlyList<double> SaveState() => _window.Save();

        public override void LoadState(IReadOnlyList<double> state) => _window.Load(state);
    }
}
