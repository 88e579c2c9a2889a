using System.Globalization;

namespace SpectralAlign.Detection;

/// <summary>
/// A layer's update-to-weight ratio ‖W_t − W_prev‖_F / ‖W_t‖_F (<see cref="LayerMeasurement.UpdateRatio"/>, since its
/// previous measurement) against its own recent typical value: the score is the ratio divided by the median of the
/// layer's ratios measured at steps t − <see cref="WindowSteps"/> ≤ s &lt; t (at least <see cref="NoiseFloor"/>);
/// anomalous at ≥ 3 (the default
/// threshold), i.e. a layer suddenly moving three times as far per measurement as it recently did.
/// </summary>
/// <remarks>
/// The ratio depends on the learning rate, the optimizer and the measurement interval, so the rule compares each
/// layer with itself rather than with a fixed level. It is warming until the window holds
/// <see cref="MinMeasurements"/> ratios; measurements without a ratio (NaN: a layer's first measurement, the first
/// after a restore or after a non-finite weight) are not judged and do not enter the window.
/// </remarks>
public sealed class UpdateRatioRule : LayerRule
{
    /// <summary>Creates the rule with reason <see cref="AlertReasons.UpdateRatioJump"/> and threshold <c>3</c> (a
    /// factor over the recent median).</summary>
    public UpdateRatioRule()
        : base(AlertReasons.UpdateRatioJump, 3)
    {
    }

    /// <summary>The window of recent ratios, in training steps before the judged one. Default <c>200</c>.</summary>
    public int WindowSteps { get; init; } = 200;

    /// <summary>Ratios the window must hold before the rule judges. Default <c>5</c>.</summary>
    public int MinMeasurements { get; init; } = 5;

    /// <summary>The smallest median the score divides by: ratios below it are at the float32 rounding floor of the
    /// estimate (see <see cref="LayerMeasurement.UpdateRatio"/>), so a layer that did not move has no scale of its
    /// own. Default <c>1e-6</c>.</summary>
    public double NoiseFloor { get; init; } = 1e-6;

    /// <inheritdoc />
    protected internal override RuleScorer<LayerMeasurement> CreateScorer(string layer) => new Scorer(this);

    /// <inheritdoc />
    protected internal override IEnumerable<string> Validate()
    {
        foreach (var problem in base.Validate())
            yield return problem;
        if (WindowSteps < 1)
            yield return $"WindowSteps must be >= 1 (was {WindowSteps}).";
        if (MinMeasurements < 1)
            yield return $"MinMeasurements must be >= 1 (was {MinMeasurements}).";
        if (!(NoiseFloor > 0) || double.IsInfinity(NoiseFloor))
            yield return $"NoiseFloor must be a finite number > 0 (was {NoiseFloor}).";
    }

    private sealed class Scorer(UpdateRatioRule rule) : RuleScorer<LayerMeasurement>
    {
        private readonly SeriesHistory _history = new();
        private double _median;

        public override double? Score(long step, LayerMeasurement input)
        {
            double ratio = input.UpdateRatio;
            if (!double.IsFinite(ratio) || ratio < 0)
                return null;
            long start = step - rule.WindowSteps;
            var window = _history.Since(start).ToList();
            _history.Forget(start);
            _history.Add(step, ratio);
            if (window.Count < rule.MinMeasurements)
                return null;
            _median = RobustStatistics.Median(window);
            return ratio / Math.Max(_median, rule.NoiseFloor);
        }

        public override string Describe(long step, LayerMeasurement input, double score, double threshold) => string.Create(
            CultureInfo.InvariantCulture,
            $"update ratio ‖ΔW‖/‖W‖ {input.UpdateRatio:G3} is {score:0.0}× its median {_median:G3} over the previous {rule.WindowSteps} steps (threshold {threshold:0.0}×)");

        public override IReadOnlyList<double> SaveState() => _history.Save();

        public override void LoadState(IReadOnlyList<double> state) => _history.Load(state);
    }
}
