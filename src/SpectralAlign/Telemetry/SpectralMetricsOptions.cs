namespace SpectralAlign.Telemetry;

/// <summary>
/// Settings of <see cref="SpectralMetrics"/>. Plain settable properties with their defaults declared here; validated
/// (every problem listed at once) and copied at construction.
/// </summary>
public sealed class SpectralMetricsOptions
{
    /// <summary>Tags added to every measurement besides <c>layer</c> (and <c>reason</c> on alerts), so that the
    /// processes of one distributed job, or several runs, can be told apart and aggregated by a collector: e.g.
    /// <c>run</c> = "exp-42", <c>rank</c> = 3. Values should have few distinct values per run. Default: none.</summary>
    public IDictionary<string, object?> Tags { get; set; } = new Dictionary<string, object?>();

    /// <summary>Lists every problem with these options; empty when they are valid.</summary>
    /// <returns>The problems, one sentence each.</returns>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (Tags is null)
        {
            problems.Add("Tags must not be null (use an empty dictionary).");
            return problems;
        }

        foreach (var key in Tags.Keys)
        {
            if (string.IsNullOrWhiteSpace(key))
                problems.Add("Tags must not have an empty key.");
            else if (key is SpectralMetrics.LayerTag or SpectralMetrics.ReasonTag)
                problems.Add($"Tags must not use the reserved key '{key}' (set by the metrics themselves).");
        }

        return problems;
    }

    internal SpectralMetricsOptions Clone() => new() { Tags = Tags is null ? null! : new Dictionary<string, object?>(Tags) };
}
