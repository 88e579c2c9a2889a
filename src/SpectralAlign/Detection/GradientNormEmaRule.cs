using System.Globalization;

namespace SpectralAlign.Detection;

/// <summary>
/// Baseline detector, ZClip's spike test (Kumar et al. 2025, "ZClip: Adaptive Spike Mitigation for LLM
/// Pre-Training"): the z-score of the global gradient norm against exponential moving averages of its mean and
/// variance. Anomalous at z ≥ <see cref="DetectionRule.Threshold"/> (default <c>2.5</c>, ZClip's z_thresh) on a
/// single step (<see cref="DetectionRule.Persistence"/> <c>1</c>). Needs the gradient norm in
/// <see cref="TrainingSignals"/>.
/// </summary>
/// <remarks>
/// <para>
/// The first <see cref="WarmupSamples"/> finite values (default 25) initialise the mean μ and the (population)
/// variance σ²; the rule is warming meanwhile. Then each value g scores z = (g − μ) / σ and updates
/// μ ← α·μ + (1 − α)·g′ and σ² ← α·σ² + (1 − α)·(g′ − μ)² (with the updated μ), α = <see cref="Alpha"/> (default
/// 0.97), where g′ = g except on a spike (z ≥ threshold), when g′ is ZClip's adaptively clipped value
/// μ + threshold²·σ / z. A non-finite value scores +∞ and is not used.
/// </para>
/// <para>
/// σ is at least <see cref="MinRelativeSpread"/> × |μ| (default 1e-3): a constant signal scores 0 and never alerts;
/// a signal of exact zeros has no scale, and a value that leaves it scores +∞ (or −∞ below it).
/// </para>
/// </remarks>
public sealed class GradientNormEmaRule : RunRule
{
    /// <summary>Creates the rule with reason <see cref="AlertReasons.GradientNormEmaSpike"/>, threshold <c>2.5</c> (σ)
    /// and persistence <c>1</c>.</summary>
    public GradientNormEmaRule()
        : base(AlertReasons.GradientNormEmaSpike, 2.5)
    {
        Persistence = 1;
    }

    /// <summary>Smoothing factor of the moving averages. Default <c>0.97</c>.</summary>
    public double Alpha { get; init; } = 0.97;

    /// <summary>Values that initialise the averages before the rule judges. Default <c>25</c>.</summary>
    public int WarmupSamples { get; init; } = 25;

    /// <summary>Smallest spread, relative to |mean|, that the z-score divides by. Default <c>1e-3</c>.</summary>
    public double MinRelativeSpread { get; init; } = 1e-3;

    /// <inheritdoc />
    protected internal override RuleScorer<TrainingSignals> CreateScorer() => new Scorer(this);

    /// <inheritdoc />
    protected internal override IEnumerable<string> Validate()
    {
        foreach (var problem in base.Validate())
            yield return problem;
        if (!(Alpha > 0 && Alpha < 1))
            yield return $"Alpha must be in (0, 1) (was {Alpha}).";
        if (WarmupSamples < 2)
            yield return $"WarmupSamples must be >= 2 (was {WarmupSamples}).";
        if (!(MinRelativeSpread >= 0) || double.IsInfinity(MinRelativeSpread))
            yield return $"MinRelativeSpread must be a finite number >= 0 (was {MinRelativeSpread}).";
        if (!(Threshold > 0))
            yield return $"Threshold must be > 0 for the clipped update (was {Threshold}).";
    }

    private sealed class Scorer(GradientNormEmaRule rule) : RuleScorer<TrainingSignals>
    {
        private readonly List<double> _warmup = [];
        private double _mean, _variance, _value, _spread;

        private bool _initialised;

        public override double? Score(long step, TrainingSignals input)
        {
            if (input.GradientNorm is not { } g)
                return null;
            _value = g;
            if (!double.IsFinite(g))
                return double.PositiveInfinity;
            if (!_initialised)
            {
                _warmup.Add(g);
                if (_warmup.Count >= rule.WarmupSamples)
                    Initialise();
                return null;
            }

            double std = Math.Sqrt(_variance);
            _spread = Math.Max(std, rule.MinRelativeSpread * Math.Abs(_mean));
            double z = SpikeScorer.ZScore(g, _mean, _spread);
            double effective = z >= rule.Threshold ? _mean + rule.Threshold * rule.Threshold * _spread / z : g;
            _mean = rule.Alpha * _mean + (1 - rule.Alpha) * effective;
            _variance = rule.Alpha * _variance + (1 - rule.Alpha) * (effective - _mean) * (effective - _mean);
            return z;
        }

        public override string Describe(long step, TrainingSignals input, double score, double threshold) => string.Create(
            CultureInfo.InvariantCulture,
            $"gradient norm {_value:G4} is {score:0.0}σ above its moving average (σ {_spread:G4}; threshold {threshold:0.0}σ)");

        /// <summary>While warming: 0 followed by the values so far; then: 1, μ, σ².</summary>
        public override IReadOnlyList<double> SaveState() => _initialised ? [1, _mean, _variance] : [0, .. _warmup];

        public override void LoadState(IReadOnlyList<double> state)
        {
            _warmup.Clear();
            _initialised = state[0] == 1;
            if (_initialised && state.Count != 3)
                throw new InvalidDataException($"An initialised moving average needs (1, mean, variance) (got {state.Count} numbers).");
            if (_initialised)
                (_mean, _variance) = (state[1], state[2]);
            else
                _warmup.AddRange(state.Skip(1));
        }

        private void Initialise()
        {
            _mean = _warmup.Average();
            _variance = _warmup.Sum(v => (v - _mean) * (v - _mean)) / _warmup.Count;
            _warmup.Clear();
            _initialised = true;
        }
    }
}
