namespace SpectralAlign.Detection;

/// <summary>
/// A baseline window that moves with the run but lags behind it: at step t it holds the values recorded at steps s
/// with t − lag − window &lt; s ≤ t − lag (the rolling-baseline rules' window).
/// </summary>
internal sealed class LaggedWindow<T>(int lagSteps, int windowSteps)
{
    private readonly List<(long Step, T Value)> _entries = [];

    /// <summary>The recorded entries, oldest first (for saving).</summary>
    public IReadOnlyList<(long Step, T Value)> Entries => _entries;

    /// <summary>The first step of the window at <paramref name="step"/>.</summary>
    public long First(long step) => step - lagSteps - windowSteps + 1;

    /// <summary>The last step of the window at <paramref name="step"/>.</summary>
    public long Last(long step) => step - lagSteps;

    /// <summary>Returns the window's values at <paramref name="step"/>, then records <paramref name="value"/>.</summary>
    public List<T> Advance(long step, T value)
    {
        long start = First(step), end = Last(step);
        _entries.RemoveAll(e => e.Step < start);
        var window = _entries.Where(e => e.Step <= end).Select(e => e.Value).ToList();
        _entries.Add((step, value));
        return window;
    }

    /// <summary>The problems with a lagged window's settings.</summary>
    public static IEnumerable<string> Validate(int lagSteps, int windowSteps, int minMeasurements)
    {
        if (lagSteps < 1)
            yield return $"LagSteps must be >= 1 (was {lagSteps}).";
        if (windowSteps < 1)
            yield return $"WindowSteps must be >= 1 (was {windowSteps}).";
        if (minMeasurements < 2)
            yield return $"MinBaselineMeasurements must be >= 2 (was {minMeasurements}).";
    }

    /// <summary>Replaces the entries (when restoring a saved state).</summary>
    public void Load(IEnumerable<(long Step, T Value)> entries)
    {
        _entries.Clear();
        _entries.AddRange(entries);
    }
}
