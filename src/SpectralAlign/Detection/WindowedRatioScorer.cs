using System.Globalization;

namespace SpectralAlign.Detection;

/// <summary>
/// The scorer of the rules that compare a statistic of a layer (or of a group of layers) with its own value a window
/// earlier: the score is the ratio now / then (growth), or then / now for an <paramref name="inverted"/> statistic
/// (drop). Values that are not finite and positive are not judged.
/// </summary>
internal sealed class WindowedRatioScorer<TInput>(int windowSteps, string statistic, bool inverted, Func<TInput, double> read) : RuleScorer<TInput>
{
    private readonly SeriesHistory _history = new();
    private double _past;

    public override double? Score(long step, TInput input)
    {
        double value = read(input);
        if (!double.IsFinite(value) || value <= 0 || _history.AddAndLookBack(step, value, windowSteps) is not { } past)
            return null;
        _past = past;
        return inverted ? past / value : value / past;
    }

    public override string Describe(long step, TInput input, double score, double threshold) => string.Create(
        CultureInfo.InvariantCulture,
        $"{statistic} {(inverted ? "fell" : "grew")} {score:0.00}× in {windowSteps} steps ({_past:G4} → {read(input):G4}; threshold {threshold:0.00}×)");

    public override IReadOnlyList<double> SaveState() => _history.Save();

    public override void LoadState(IReadOnlyList<double> state) => _history.Load(state);
}

/// <summary>The settings check of <see cref="WindowedRatioScorer{TInput}"/>.</summary>
internal static class WindowedRatioScorer
{
    public static IEnumerable<string> Validate(int windowSteps)
    {
        if (windowSteps < 1)
            yield return $"WindowSteps must be >= 1 (was {windowSteps}).";
    }
}
