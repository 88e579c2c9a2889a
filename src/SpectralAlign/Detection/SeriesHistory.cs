namespace SpectralAlign.Detection;

/// <summary>
/// A short (step, value) history of one statistic, for looking up the value about a window ago: it keeps, besides
/// the newer entries, one entry at or before the oldest step still asked for.
/// </summary>
internal sealed class SeriesHistory
{
    private readonly List<(long Step, double Value)> _entries = [];

    public void Add(long step, double value) => _entries.Add((step, value));

    /// <summary>The latest value recorded at or before <paramref name="step"/>, or <c>null</c> when the history does
    /// not reach back that far.</summary>
    public double? AtOrBefore(long step)
    {
        int index = _entries.FindLastIndex(e => e.Step <= step);
        return index < 0 ? null : _entries[index].Value;
    }

    /// <summary>The values recorded at or after <paramref name="step"/>, oldest first.</summary>
    public IEnumerable<double> Since(long step) => _entries.Where(e => e.Step >= step).Select(e => e.Value);

    /// <summary>Drops the entries no lookup at or after <paramref name="oldest"/> needs.</summary>
    public void Forget(long oldest)
    {
        int index = _entries.FindLastIndex(e => e.Step <= oldest);
        if (index > 0)
            _entries.RemoveRange(0, index);
    }

    /// <summary>Appends a value and returns the latest value recorded at or before <c>step − window</c>.</summary>
    public double? AddAndLookBack(long step, double value, long window)
    {
        Add(step, value);
        Forget(step - window);
        return AtOrBefore(step - window);
    }

    public IReadOnlyList<double> Save() => [.. _entries.SelectMany(e => new[] { e.Step, e.Value })];

    public void Load(IReadOnlyList<double> state)
    {
        if (state.Count % 2 != 0)
            throw new InvalidDataException($"A series history needs (step, value) pairs (got {state.Count} numbers).");
        _entries.Clear();
        for (int i = 0; i < state.Count; i += 2)
            _entries.Add(((long)state[i], state[i + 1]));
    }
}
