using System.Globalization;

namespace SpectralAlign.Detection;

/// <summary>
/// A baseline window that moves with the run but lags behind it: at step t it holds the values recorded at steps s
/// with t − lag − window &lt; s ≤ t − lag. The part the lagged-baseline rules (<see cref="RollingBaselineRule"/>,
/// <see cref="JacobianAlignmentRule"/>) share: the window, the number of values it must hold to serve as a baseline,
/// its steps for an alert's detail, and its state, saved as (step, fields…) tuples.
/// </summary>
internal sealed class LaggedWindow<T>(int lagSteps, int windowSteps, int minMeasurements, WindowFields<T> fields)
{
    private readonly List<(long Step, T Value)> _entries = [];

    /// <summary>Returns the window's values at <paramref name="step"/>, or null while it holds fewer than the
    /// minimum; then records <paramref name="value"/>.</summary>
    public List<T>? Advance(long step, T value)
    {
        long start = First(step), end = Last(step);
        _entries.RemoveAll(e => e.Step < start);
        var window = _entries.Where(e => e.Step <= end).Select(e => e.Value).ToList();
        _entries.Add((step, value));
        return window.Count >= minMeasurements ? window : null;
    }

    /// <summary>The window's steps at <paramref name="step"/>, "first–last", for an alert's detail.</summary>
    public string Steps(long step) => string.Create(CultureInfo.InvariantCulture, $"{First(step)}–{Last(step)}");

    /// <summary>The recorded entries as (step, fields…) tuples, oldest first.</summary>
    public IReadOnlyList<double> Save() => [.. _entries.SelectMany(e => fields.Write(e.Value).Prepend(e.Step))];

    /// <summary>Replaces the entries with the tuples <see cref="Save"/> returned.</summary>
    /// <exception cref="InvalidDataException">The numbers are not whole tuples.</exception>
    public void Load(IReadOnlyList<double> state)
    {
        int width = fields.Names.Count + 1;
        if (state.Count % width != 0)
        {
            string tuples = width switch { 2 => "pairs", 3 => "triples", _ => $"{width}-tuples" };
            throw new InvalidDataException($"The history needs (step, {string.Join(", ", fields.Names)}) {tuples} (got {state.Count} numbers).");
        }

        _entries.Clear();
        _entries.AddRange(Enumerable.Range(0, state.Count / width).Select(i => ((long)state[width * i], fields.Read(state, width * i + 1))));
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

    private long First(long step) => step - lagSteps - windowSteps + 1;

    private long Last(long step) => step - lagSteps;
}
