using System.Diagnostics;

namespace SpectralAlign.Scenarios.Rescue;

/// <summary>The <c>rescue</c> command: computes a shard of the cells, or all missing cells and then the report.</summary>
public static class RescueCommand
{
    /// <summary>Runs the command.</summary>
    /// <param name="runs">Folder of the cells (outside the repository; relative or absolute, never written to the
    /// report).</param>
    /// <param name="plan">The cases.</param>
    /// <param name="shard">(index, count) to compute only a shard and write no report; null for everything and the
    /// report.</param>
    /// <param name="output">The report's file (null: standard output only).</param>
    /// <param name="command">The command lines to print in the report.</param>
    /// <param name="threads">torch threads per cell.</param>
    /// <param name="log">Progress.</param>
    /// <param name="arms">Only these arms (a pilot: no report), or null for all.</param>
    /// <param name="note">A paragraph printed under the header (e.g. why some seeds were left out), or null.</param>
    /// <returns>The report, or an empty string for a shard or a pilot.</returns>
    public static string Run(string runs, RescuePlan plan, (int Index, int Count)? shard, string? output, string command, int threads, TextWriter log, IReadOnlySet<RescueArmKind>? arms = null, string? note = null)
    {
        ArgumentNullException.ThrowIfNull(plan);
        string commit = Commit();
        var evaluation = new RescueEvaluation(runs, commit, threads, log);
        var (index, count) = shard ?? (0, 1);
        if (count < 1 || index < 0 || index >= count)
            throw new ArgumentException($"--shard {index}/{count}: the index must lie in [0, count).");
        evaluation.Compute(plan, index, count, arms);
        if (shard is not null || arms is not null)
            return "";
        var cases = evaluation.Load(plan);
        var commits = cases.SelectMany(c => c.Arms.Values).Select(r => r.Commit).Distinct().ToList();
        string cellCommits = string.Join(", ", commits);
        string report = RescueReport.Write(cases, plan, command, cellCommits == commit ? commit : $"{cellCommits} (cells); table written at {commit}", note);
        if (output is not null)
            File.WriteAllText(output, report);
        return report;
    }

    /// <summary>The current commit (short hash, "+dirty" with uncommitted changes), or "unknown".</summary>
    private static string Commit()
    {
        try
        {
            string Git(string args)
            {
                using var p = Process.Start(new ProcessStartInfo("git", args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false })!;
                string text = p.StandardOutput.ReadToEnd().Trim();
                p.WaitForExit();
                return p.ExitCode == 0 ? text : throw new InvalidOperationException(args);
            }

            string head = Git("rev-parse --short HEAD");
            string status = Git("status --porcelain --untracked-files=no");
            return status.Length == 0 ? head : head + "+dirty";
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return "unknown";
        }
    }
}
