using System.Globalization;

namespace SpectralAlign.Detection;

/// <summary>
/// SA one-sidedness in a layer that coincides with <em>accelerating</em> growth of the same layer's spectral norm —
/// the feedback loop of the paper's Theorem 1: under one-sided alignment each step grows σ1 by an amount proportional
/// to ‖h‖², which itself grows with σ1, so log σ1 bends upwards. Score = min(one-sidedness, acceleration), anomalous
/// at ≥ 1 (both hold; the default threshold).
/// </summary>
/// <remarks>
/// <para>
/// One-sidedness is the <see cref="AbsoluteSignCollapseRule"/> score, max(|mean SA| / <see cref="MeanThreshold"/>,
/// (1 − D) / (1 − <see cref="DiversityThreshold"/>)).
/// </para>
/// <para>
/// Acceleration is a second difference of log σ1 over windows of W = <see cref="WindowSteps"/> steps. With
/// g₁ = ln σ1(t) − ln σ1(t − W) (the growth over the last window) and g₀ = ln σ1(t − W) − ln σ1(t − 2W) (over the
/// window before), a = g₁ − max(g₀, 0): the last window's log-growth beyond the previous window's, counting a
/// previous shrink as no growth, so that a layer that merely shrinks more slowly is not accelerating. The acceleration
/// term is a / ln(<see cref="AccelerationFactor"/>), ≥ 1 when σ1 grew over the last window by at least that factor
/// more than over the window before. σ1(t − W) and σ1(t − 2W) are the latest measurements at or before those steps;
/// the rule is warming until the history reaches back 2W.
/// </para>
/// </remarks>
public sealed class AlignedAccelerationRule : LayerRule
{
    /// <summary>Creates the rule with reason <see cref="AlertReasons.AlignedAcceleration"/> and threshold
    /// <c>1</c>.</summary>
    public AlignedAccelerationRule()
        : base(AlertReasons.AlignedAcceleration, 1)
    {
    }

    /// <summary>|mean SA| that counts as one-sided. Default <c>0.2</c>.</summary>
    public double MeanThreshold { get; init; } = 0.2;

    /// <summary>Sign diversity that counts as one-sided. Default <c>0.1</c>.</summary>
    public double DiversityThreshold { get; init; } = 0.1;

    /// <summary>Length W of each of the two windows, in training steps. Default <c>100</c>.</summary>
    public int WindowSteps { get; init; } = 100;

    /// <summary>How much more σ1 must grow over the last window than over the one before to count as accelerating
    /// (the ratio of the two growth factors). Default <c>1.2</c>.</summary>
    public double AccelerationFactor { get; init; } = 1.2;

    /// <inheritdoc />
    protected internal override RuleScorer<LayerMeasurement> CreateScorer(string layer) => new Scorer(this);

    /// <inheritdoc />
    protected internal override IEnumerable<string> Validate()
    {
        foreach (var problem in base.Validate().Concat(OneSidedness.Validate(MeanThreshold, DiversityThreshold)))
            yield return problem;
        if (WindowSteps < 1)
            yield return $"WindowSteps must be >= 1 (was {WindowSteps}).";
        if (!(AccelerationFactor > 1) || double.IsInfinity(AccelerationFactor))
            yield return $"AccelerationFactor must be a finite number > 1 (was {AccelerationFactor}).";
    }

    /// <summary>The acceleration a = g₁ − max(g₀, 0) of log σ1 (see the remarks).</summary>
    internal static double Acceleration(double sigmaNow, double sigmaOneWindowAgo, double sigmaTwoWindowsAgo)
    {
        double g1 = Math.Log(sigmaNow / sigmaOneWindowAgo);
        double g0 = Math.Log(sigmaOneWindowAgo / sigmaTwoWindowsAgo);
        return g1 - Math.Max(g0, 0);
    }

    private sealed class Scorer(AlignedAccelerationRule rule) : RuleScorer<LayerMeasurement>
    {
        private readonly SeriesHistory _history = new();
        private double _previous, _older, _acceleration;

        public override double? Score(long step, LayerMeasurement input)
        {
            double sigma = input.SpectralNorm;
            if (!double.IsFinite(sigma) || sigma <= 0)
                return null;
            _history.Add(step, sigma);
            _history.Forget(step - 2L * rule.WindowSteps);
            if (_history.AtOrBefore(step - rule.WindowSteps) is not { } previous || _history.AtOrBefore(step - 2L * rule.WindowSteps) is not { } older)
                return null;
            (_previous, _older) = (previous, older);
            _acceleration = Acceleration(sigma, previous, older);
            double oneSided = OneSidedness.Score(input.Stats, rule.MeanThreshold, rule.DiversityThreshold);
            return Math.Min(oneSided, _acceleration / Math.Log(rule.AccelerationFactor));
        }

        public override string Describe(long step, LayerMeasurement input, double score, double threshold) => string.Create(
            CultureInfo.InvariantCulture,
            $"one-sided (|mean SA| {input.Stats.AbsMean:0.000}, sign diversity {input.Stats.SignDiversity:0.000}) while σ1 accelerated: {_older:G4} → {_previous:G4} → {input.SpectralNorm:G4} over two windows of {rule.WindowSteps} steps (growth ratio {Math.Exp(_acceleration):0.00}×); score {score:0.00} (threshold {threshold:0.00})");

        public override IReadOnlyList<double> SaveState() => _history.Save();

        public override void LoadState(IReadOnlyList<double> state) => _history.Load(state);
    }
}
