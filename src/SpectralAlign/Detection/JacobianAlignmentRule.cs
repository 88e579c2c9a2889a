using System.Globalization;

namespace SpectralAlign.Detection;

/// <summary>
/// Jacobian alignment between adjacent layers (MSign's second precursor, issue 14): a layer's
/// <see cref="LayerMeasurement.UpstreamAlignment"/> a = |cos(u1 of the linked upstream layer, v1 of this layer)|, judged
/// by its level and by its rise over a lagged, rolling baseline of its own. The score is
/// max(a / <see cref="Level"/>, (a − median) / max(<see cref="Sigmas"/> · spread, <see cref="MinRise"/>)), anomalous at
/// ≥ 1 (the default threshold): a at or above <see cref="Level"/>, or a risen above its baseline by more than both
/// <see cref="Sigmas"/> robust standard deviations and <see cref="MinRise"/>.
/// </summary>
/// <remarks>
/// <para>
/// The baseline at step t is formed by the layer's alignments at steps s with
/// t − <see cref="LagSteps"/> − <see cref="WindowSteps"/> &lt; s ≤ t − <see cref="LagSteps"/>: median and robust spread
/// 1.4826·MAD (as <see cref="RollingBaselineRule"/>, whose lag keeps a rise out of its own baseline). Until the window
/// holds <see cref="MinBaselineMeasurements"/> alignments only the level term scores. Set <see cref="Level"/> to
/// <see cref="double.PositiveInfinity"/> to judge the rise alone, or <see cref="MinRise"/> to
/// <see cref="double.PositiveInfinity"/> to judge the level alone.
/// </para>
/// <para>
/// A measurement without an alignment (NaN: the layer has no linked upstream layer, the shapes do not fit, or a weight
/// has no defined singular vector) is not judged and does not enter the baseline, so the rule is silent on unlinked
/// layers. For random directions in n dimensions a ≈ √(2/(πn)) (≈ 0.1 for n = 64), so the default
/// <see cref="Level"/> of 0.9 means two adjacent layers' top directions within about 25° of each other.
/// </para>
/// </remarks>
public sealed class JacobianAlignmentRule : LayerRule
{
    /// <summary>Creates the rule with reason <see cref="AlertReasons.JacobianAlignment"/> and threshold
    /// <c>1</c>.</summary>
    public JacobianAlignmentRule()
        : base(AlertReasons.JacobianAlignment, 1)
    {
    }

    /// <summary>Alignment at or above which a measurement is anomalous on its level alone. Default <c>0.9</c>;
    /// <see cref="double.PositiveInfinity"/> turns the level term off.</summary>
    public double Level { get; init; } = 0.9;

    /// <summary>Robust standard deviations the alignment must rise above its baseline median. Default
    /// <c>6</c>.</summary>
    public double Sigmas { get; init; } = 6;

    /// <summary>Smallest rise above the baseline median that counts. Default <c>0.3</c>;
    /// <see cref="double.PositiveInfinity"/> turns the rise term off.</summary>
    public double MinRise { get; init; } = 0.3;

    /// <summary>How many steps the baseline window ends before the judged step. Default <c>100</c>.</summary>
    public int LagSteps { get; init; } = 100;

    /// <summary>Length of the baseline window, in steps. Default <c>200</c>.</summary>
    public int WindowSteps { get; init; } = 200;

    /// <summary>Alignments the window must hold before the rise is judged. Default <c>10</c>.</summary>
    public int MinBaselineMeasurements { get; init; } = 10;

    /// <inheritdoc />
    protected internal override RuleScorer<LayerMeasurement> CreateScorer(string layer) => new Scorer(this);

    /// <inheritdoc />
    protected internal override IEnumerable<string> Validate()
    {
        foreach (var problem in base.Validate())
            yield return problem;
        if (!(Level > 0))
            yield return $"Level must be > 0 (was {Level}).";
        if (!(Sigmas >= 0) || double.IsInfinity(Sigmas))
            yield return $"Sigmas must be a finite number >= 0 (was {Sigmas}).";
        if (!(MinRise > 0))
            yield return $"MinRise must be > 0 (was {MinRise}).";
        foreach (var problem in LaggedWindow<double>.Validate(LagSteps, WindowSteps, MinBaselineMeasurements))
            yield return problem;
    }

    private sealed class Scorer(JacobianAlignmentRule rule) : RuleScorer<LayerMeasurement>
    {
        private static readonly WindowFields<double> Fields = new(["alignment"], a => [a], (state, at) => state[at]);
        private readonly LaggedWindow<double> _window = new(rule.LagSteps, rule.WindowSteps, rule.MinBaselineMeasurements, Fields);
        private double _median = double.NaN, _scale = double.NaN;

        public override double? Score(long step, LayerMeasurement input)
        {
            double a = input.UpstreamAlignment;
            if (!double.IsFinite(a))
                return null;
            var baseline = _window.Advance(step, a);
            double score = a / rule.Level;
            (_median, _scale) = (double.NaN, double.NaN);
            if (baseline is not null)
            {
                (_median, double spread) = RobustStatistics.MedianAndSpread(baseline);
                _scale = Math.Max(rule.Sigmas * spread, rule.MinRise);
                score = Math.Max(score, (a - _median) / _scale);
            }

            return score;
        }

        public override string Describe(long step, LayerMeasurement input, double score, double threshold) => string.Create(
            CultureInfo.InvariantCulture,
            $"top input direction aligned with the upstream layer's top output direction: |cos(u1, v1)| {input.UpstreamAlignment:0.000} (level {rule.Level * threshold:0.000}")
            + (double.IsNaN(_median)
                ? "; baseline still forming)"
                : string.Create(CultureInfo.InvariantCulture, $"; baseline median {_median:0.000} over steps {_window.Steps(step)}, rise {input.UpstreamAlignment - _median:0.000} vs scale {_scale:0.000})"))
            + string.Create(CultureInfo.InvariantCulture, $"; score {score:0.00}");

        /// <summary>(step, alignment) pairs.</summary>
        public override IReadOnlyList<double> SaveState() => _window.Save();

        public override void LoadState(IReadOnlyList<double> state) => _window.Load(state);
    }
}
