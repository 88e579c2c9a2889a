using System.Globalization;

namespace SpectralAlign.Detection;

/// <summary>
/// Base of the run-level spike rules: the score is the z-score of the current value against the mean and standard
/// deviation of the previous <see cref="WindowSteps"/> values (as OLMo's 6σ gradient-norm spike check). Values at or
/// above the rule's <see cref="ScoredRunRule.Threshold"/> do not enter the window, so a sustained jump stays anomalous
/// instead of becoming the new normal.
/// </summary>
public abstract class SpikeRule : ScoredRunRule
{
    /// <summary>Steps in the reference window. Default <c>100</c>.</summary>
    public int WindowSteps { get; set; } = 100;

    /// <summary>Values the window must hold before the rule judges. Default <c>20</c>.</summary>
    public int MinSamples { get; set; } = 20;

    /// <summary>z-score at or above which a step is anomalous. Default <c>6</c>.</summary>
    public override double Threshold { get; set; } = 6;

    /// <summary>The signal's name, for messages.</summary>
    protected abstract string SignalName { get; }

    /// <summary>Reads the signal.</summary>
    /// <param name="signals">The step's signals.</param>
    /// <returns>The value, or <c>null</c> when absent.</returns>
    protected abstract double? Read(TrainingSignals signals);

    /// <inheritdoc />
    public override IRunScorer CreateScorer() => new Scorer(this);

    /// <inheritdoc />
    public override IEnumerable<string> Validate()
    {
        foreach (var problem in base.Validate())
            yield return problem;
        if (WindowSteps < 2)
            yield return $"WindowSteps must be >= 2 (was {WindowSteps}).";
        if (MinSamples < 2 || MinSamples > WindowSteps)
            yield return $"MinSamples must be in [2, WindowSteps] (was {MinSamples}).";
    }

    private sealed class Scorer(SpikeRule rule) : IRunScorer
    {
        private readonly Queue<double> _window = new();
        private double _value, _mean, _std;

        public double? Score(long step, TrainingSignals signals)
        {
            if (rule.Read(signals) is not { } value)
                return null;
            double? score = null;
            _value = value;
            if (!double.IsFinite(value))
            {
                score = double.PositiveInfinity;
            }
            else if (_window.Count >= rule.MinSamples)
            {
                _mean = _window.Average();
                _std = Math.Sqrt(_window.Sum(v => (v - _mean) * (v - _mean)) / (_window.Count - 1));
                score = (value - _mean) / Math.Max(_std, 1e-12 * Math.Max(1, Math.Abs(_mean)));
            }

            if (double.IsFinite(value) && !(score >= rule.Threshold))
            {
                _window.Enqueue(value);
                if (_window.Count > rule.WindowSteps)
                    _window.Dequeue();
            }

            return score;
        }

        public string Describe(double score, double threshold) => string.Create(
            CultureInfo.InvariantCulture,
            $"{rule.SignalName} {_value:G4} is {score:0.0}σ above its mean {_mean:G4} over the last {_window.Count} steps (threshold {threshold:0.0}σ)");
    }
}
