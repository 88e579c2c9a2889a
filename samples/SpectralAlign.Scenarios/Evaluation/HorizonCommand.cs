using System.Diagnostics;
using SpectralAlign.Scenarios.Analysis;

namespace SpectralAlign.Scenarios.Evaluation;

/// <summary>The <c>horizon</c> command: loads run records from directories, evaluates by horizon, writes the
/// report.</summary>
public static class HorizonCommand
{
    /// <summary>Runs the command.</summary>
    /// <param name="directories">Directories of <c>*.jsonl</c> run records, relative to the working directory (the
    /// report names them, so absolute paths are refused).</param>
    /// <param name="settings">The evaluation settings.</param>
    /// <param name="output">The report file (relative), or null to print only.</param>
    /// <param name="command">The exact command line, for the report.</param>
    /// <param name="detectors">The detectors (default: <see cref="HorizonCatalog.All"/>).</param>
    /// <returns>The report.</returns>
    /// <exception cref="ArgumentException">An absolute path, a missing directory, or no records.</exception>
    public static string Run(IReadOnlyList<string> directories, HorizonEvaluationSettings settings, string? output, string command, IReadOnlyList<HorizonDetector>? detectors = null)
    {
        ArgumentNullException.ThrowIfNull(directories);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(command);
        var problems = new List<string>();
        foreach (var path in directories.Append(output).OfType<string>().Where(Path.IsPathRooted))
            problems.Add($"'{path}' is absolute; the report names the command that produced it, so pass paths relative to the repository.");
        foreach (var dir in directories.Where(d => !Path.IsPathRooted(d) && !Directory.Exists(d)))
            problems.Add($"Directory '{dir}' does not exist.");
        if (directories.Count == 0)
            problems.Add("No run directories given.");
        if (problems.Count > 0)
            throw new ArgumentException(string.Join("\n", problems));

        var clock = Stopwatch.StartNew();
        var runs = directories
            .SelectMany(dir => Directory.GetFiles(dir, "*.jsonl"))
            .Order(StringComparer.Ordinal)
            .Select(RunData.Load)
            .ToList();
        if (runs.Count == 0)
            throw new ArgumentException($"No *.jsonl run records in {string.Join(", ", directories)}.");
        var evaluation = LeaveOneFamilyOut.Evaluate(runs, detectors ?? HorizonCatalog.All, settings);
        string report = HorizonReport.Write(evaluation, command, clock.Elapsed, HorizonRecords.Describe(runs));
        if (output is not null)
            File.WriteAllText(output, report);
        return report;
    }
}
