using System.Globalization;

namespace SpectralAlign.Scenarios;

/// <summary>
/// The settings of one run as string key/value pairs: a scenario's defaults, overlaid by a named configuration
/// (<c>stable</c>, <c>exploding</c>), overlaid by command-line overrides. Recorded verbatim in the run's header.
/// </summary>
public sealed class HyperParameters
{
    private readonly SortedDictionary<string, string> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);

    /// <summary>Creates settings from layers of key/value pairs; later layers win.</summary>
    /// <param name="layers">The layers, lowest priority first.</param>
    public HyperParameters(params IEnumerable<KeyValuePair<string, string>>[] layers)
    {
        foreach (var layer in layers)
        {
            foreach (var (key, value) in layer)
                _values[key] = value;
        }
    }

    /// <summary>All settings, sorted by key.</summary>
    public IReadOnlyDictionary<string, string> Values => _values;

    /// <summary>Keys that were set but never read by the scenario (usually a typo in an override).</summary>
    public IEnumerable<string> Unread => _values.Keys.Where(k => !_read.Contains(k));

    /// <summary>A floating-point setting.</summary>
    /// <param name="key">The key.</param>
    /// <returns>Its value.</returns>
    public double GetDouble(string key) => double.Parse(Get(key), NumberStyles.Float, CultureInfo.InvariantCulture);

    /// <summary>An integer setting.</summary>
    /// <param name="key">The key.</param>
    /// <returns>Its value.</returns>
    public int GetInt(string key) => int.Parse(Get(key), NumberStyles.Integer, CultureInfo.InvariantCulture);

    /// <summary>A boolean setting (<c>true</c>/<c>false</c>).</summary>
    /// <param name="key">The key.</param>
    /// <returns>Its value.</returns>
    public bool GetBool(string key) => bool.Parse(Get(key));

    /// <summary>A string setting.</summary>
    /// <param name="key">The key.</param>
    /// <returns>Its value.</returns>
    public string GetString(string key) => Get(key);

    /// <summary>Parses <c>key=value</c> overrides.</summary>
    /// <param name="assignments">The overrides.</param>
    /// <returns>The pairs.</returns>
    /// <exception cref="FormatException">An override has no <c>=</c>.</exception>
    public static IEnumerable<KeyValuePair<string, string>> ParseOverrides(IEnumerable<string> assignments)
    {
        foreach (var a in assignments)
        {
            int eq = a.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
                throw new FormatException($"Expected key=value, got '{a}'.");
            yield return new(a[..eq].Trim(), a[(eq + 1)..].Trim());
        }
    }

    private string Get(string key)
    {
        if (!_values.TryGetValue(key, out var value))
            throw new KeyNotFoundException($"Setting '{key}' is missing.");
        _read.Add(key);
        return value;
    }
}
