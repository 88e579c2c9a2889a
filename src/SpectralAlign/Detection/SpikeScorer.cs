using System.Globalization;

namespace SpectralAlign.Detection;

/// <summary>
/// The scorer of the single-signal spike checks: the z-score of the current value against the mean and sample
/// standard deviation of the previous values in a window. Values scoring at or above the rule's own threshold do not
/// enter the window, so a sustained jump stays anomalous instead of becoming the new normal. A non-finite value
/// scores +∞. The spread is at least the setting's relative floor × |mean| (see <see cref="SpikeRule"/>).
/// </summary>
internal sealed class SpikeScorer(SpikeSettings settings, double exclusionLevel, string signal, Func<TrainingSignals, double?> read) : RuleScorer<TrainingSignals>
{
    private readonly Queue<double> _window = new();
    private double _value, _mean, _spread;

    public override double? Score(long step, TrainingSignals input)
    {
        if (read(input) is not { } value)
            return null;
        _value = value;
        double? score = null;
        if (!double.IsFinite(value))
        {
            score = double.PositiveInfinity;
        }
        else if (_window.Count >= settings.MinSamples)
        {
            _mean = _window.Average();
            double std = Math.Sqrt(_window.Sum(v => (v - _mean) * (v - _mean)) / (_window.Count - 1));
            _spread = Math.Max(std, settings.MinRelativeSpread * Math.Abs(_mean));
            score = ZScore(value, _mean, _spread);
        }

        if (double.IsFinite(value) && !(score >= exclusionLevel))
        {
            _window.Enqueue(value);
            if (_window.Count > settings.WindowSteps)
                _window.Dequeue();
        }

        return score;
    }

    /// <summary>(value − mean) / spread, where a zero spread (a window of exact zeros) gives 0 for value = mean and
    /// ±∞ otherwise.</summary>
    public static double ZScore(double value, double mean, double spread) =>
        spread > 0 ? (value - mean) / spread : value == mean ? 0 : value > mean ? double.PositiveInfinity : double.NegativeInfinity;

    public override string Describe(long step, TrainingSignals input, double score, double threshold) => string.Create(
        CultureInfo.InvariantCulture,
        $"{signal} {_value:G4} is {score:0.0}σ above its mean {_mean:G4} (σ {_spread:G4}) over the last {_window.Count} steps (threshold {threshold:0.0}σ)");

    public override IReadOnlyList<double> SaveState() => [.. _window];

    public override void LoadState(IReadOnlyList<double> state)
    {
        _window.Clear();
        foreach (double value in state.TakeLast(settings.WindowSteps))
            _window.Enqueue(value);
    }
}

/// <summary>The window settings of a spike check.</summary>
internal readonly record struct SpikeSettings(int WindowSteps, int MinSamples, double MinRelativeSpread)
{
    public IEnumerable<string> Validate()
    {
        if (WindowSteps < 2)
            yield return $"WindowSteps must be >= 2 (was {WindowSteps}).";
        if (MinSamples < 2 || MinSamples > WindowSteps)
            yield return $"MinSamples must be in [2, WindowSteps] (was {MinSamples}).";
        if (!(MinRelativeSpread >= 0) || double.IsInfinity(MinRelativeSpread))
            yield return $"MinRelativeSpread must be a finite number >= 0 (was {MinRelativeSpread}).";
    }
}
