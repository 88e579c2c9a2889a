using System.Text.Json.Nodes;

namespace SpectralAlign.Detection;

/// <summary>
/// A short (step, value) history of one statistic, long enough to look up the value about <c>window</c> steps ago.
/// </summary>
internal sealed class SeriesHistory(long window)
{
    private readonly List<(long Step, double Value)> _entries = [];

    /// <summary>Appends a value and returns the latest value recorded at or before <c>step − window</c>, or
    /// <c>null</c> while the history does not reach back that far.</summary>
    public double? AddAndLookBack(long step, double value)
    {
        _entries.Add((step, value));
        long target = step - window;
        int index = _entries.FindLastIndex(e => e.Step <= target);
        if (index < 0)
            return null;
        // Keep one entry at or before the target for the next lookup; drop everything older.
        if (index > 0)
            _entries.RemoveRange(0, index);
        return _entries[0].Value;
    }

    public JsonArray Save() => new(_entries.Select(e => (JsonNode)new JsonArray(e.Step, e.Value)).ToArray());

    public void Load(JsonNode state)
    {
        _entries.Clear();
        _entries.AddRange(state.AsArray().Select(e => (e![0]!.GetValue<long>(), e[1]!.GetValue<double>())));
    }
}
