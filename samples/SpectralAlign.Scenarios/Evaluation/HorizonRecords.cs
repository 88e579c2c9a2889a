using System.Globalization;
using SpectralAlign.Scenarios.Analysis;

namespace SpectralAlign.Scenarios.Evaluation;

/// <summary>What the report says about the records themselves: the monitor version(s) they were made with and what
/// recording them cost.</summary>
public static class HorizonRecords
{
    private const string NotRecorded = "not recorded";

    /// <summary>One markdown paragraph: the distinct monitor versions (from each header's <c>monitor.version</c>; the
    /// commit follows the '+'), flagged when there is more than one, and the summed processor and wall time of the
    /// runs (from their end lines; runs without one are counted).</summary>
    /// <param name="runs">The loaded records.</param>
    /// <returns>The paragraph.</returns>
    public static string Describe(IReadOnlyList<RunData> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        var versions = runs
            .GroupBy(r => r.Header.Monitor.TryGetValue("version", out var v) ? v : NotRecorded, StringComparer.Ordinal)
            .OrderByDescending(g => g.Count())
            .Select(g => Inv($"`{g.Key}` ({g.Count()} runs)"))
            .ToArray();
        var summaries = runs.Select(r => r.Summary).OfType<Recording.RunSummary>().ToArray();
        string one = versions.Length > 1 ? "**more than one monitor version: the records are not comparable**"
            : runs.Any(r => !r.Header.Monitor.ContainsKey("version")) ? "the records do not name their monitor version (made before the header carried it; the commit must be stated with them)"
            : "one monitor version for all records";
        return Inv($"Records: {runs.Count} runs, {one}: {string.Join(", ", versions)}. Recording cost, summed over the runs: {summaries.Sum(s => s.CpuSeconds) / 60:F1} min of processor time, {summaries.Sum(s => s.WallSeconds) / 60:F1} min of wall time (one torch thread per run){(summaries.Length < runs.Count ? Inv($"; {runs.Count - summaries.Length} runs without an end line are not counted") : "")}.");
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
